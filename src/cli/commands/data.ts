/**
 * `ecgflow data verify` reads every record of a WFDB database (all signals, checked against the header
 * checksums, and the reference annotations) and summarises it; `ecgflow data download` fetches a database
 * from PhysioNet and checks every file against its SHA256SUMS.txt.
 */
import type { Command } from 'commander';
import { ConfigError, describeError } from '../../errors';
import { resolveDataDir } from '../../config/settings';
import { DEFAULT_BASE_URL, downloadDatabase, type DownloadProgress } from '../../data/download';
import { chooseLead, listRecords, readAnnotations, readSignals } from '../../wfdb/record';
import { AAMI_CLASSES, countBeats, type AamiClass } from '../../wfdb/labels';
import { formatNumber, log, printJson, table } from '../../util/output';
import { Progress } from '../../util/progress';
import { addDataDirOption, addJsonOption } from '../options';

/** Effective configuration of `data verify`. */
export interface VerifyConfig {
  dataDir: string;
  /** Annotator (file extension) read for every record. */
  annotator: string;
  /** Records read at the same time. */
  concurrency: number;
  json: boolean;
}

/** Effective configuration of `data download`. */
export interface DownloadConfig {
  dataDir: string;
  baseUrl: string;
  concurrency: number;
  retries: number;
  json: boolean;
}

/** One record's line in the verify report. */
export interface RecordReport {
  record: string;
  sampleRateHz: number;
  signals: number;
  frames: number;
  lead: string;
  leadFallback: boolean;
  annotations: number;
  beats: number;
  aami: Record<AamiClass, number>;
  bySymbol: Record<string, number>;
  /** Header/data disagreements (first sample or checksum), per signal. */
  mismatches: Array<{ signal: number; description: string; problem: string }>;
  /** Set when the record could not be read at all. */
  error?: string;
}

/** The `--json` result of `data verify`. */
export interface VerifySummary {
  records: number;
  signals: number;
  annotations: number;
  beats: number;
  checksumMismatches: number;
  beatsBySymbol: Record<string, number>;
  aami: Record<AamiClass, number>;
  unmappedBeats: number;
  unreadableRecords: number;
  problems: Array<{ record: string; signal?: number; problem: string }>;
  seconds: number;
}

export function register(program: Command): void {
  const data = program
    .command('data')
    .description('WFDB data: check the local database, download it from PhysioNet');

  const verify = data
    .command('verify')
    .description(
      'read every record (signals with checksum validation, annotations) and summarise the database',
    )
    .option('--annotator <name>', 'annotation file extension to read', 'atr')
    .option('--concurrency <n>', 'records read at the same time', '4');
  addDataDirOption(verify);
  addJsonOption(verify);
  verify.action(
    async (flags: { dataDir?: string; annotator: string; concurrency: string; json?: boolean }) => {
      const config: VerifyConfig = {
        dataDir: resolveDataDir(flags.dataDir),
        annotator: flags.annotator,
        concurrency: positiveInt(flags.concurrency, 'concurrency'),
        json: flags.json === true,
      };
      log(`data verify: ${JSON.stringify(config)}`);
      const summary = await verifyDatabase(config);
      if (summary.problems.length > 0 || summary.records === 0) process.exitCode = 1;
      if (config.json) printJson(summary);
    },
  );

  const download = data
    .command('download')
    .description('download a WFDB database from PhysioNet, verifying every file against SHA256SUMS.txt')
    .option('--base-url <url>', 'URL of the database folder', DEFAULT_BASE_URL)
    .option('--concurrency <n>', 'simultaneous downloads', '4')
    .option('--retries <n>', 'retries per file after a transient failure', '3');
  addDataDirOption(download);
  addJsonOption(download);
  download.action(
    async (flags: {
      dataDir?: string;
      baseUrl: string;
      concurrency: string;
      retries: string;
      json?: boolean;
    }) => {
      const config: DownloadConfig = {
        dataDir: resolveDataDir(flags.dataDir),
        baseUrl: parseUrl(flags.baseUrl),
        concurrency: positiveInt(flags.concurrency, 'concurrency'),
        retries: nonNegativeInt(flags.retries, 'retries'),
        json: flags.json === true,
      };
      log(`data download: ${JSON.stringify(config)}`);
      const bar = new DownloadBar();
      const summary = await downloadDatabase({
        dataDir: config.dataDir,
        baseUrl: config.baseUrl,
        concurrency: config.concurrency,
        retries: config.retries,
        onProgress: (p) => bar.update(p),
      });
      bar.finish();
      const lines = table([
        ['records', 'files', 'downloaded', 'already present', 'MB downloaded', 'retries', 'seconds'],
        [
          summary.records,
          summary.files,
          summary.downloaded,
          summary.skipped,
          round(summary.bytesDownloaded / 1e6, 1),
          summary.retries,
          round(summary.seconds, 1),
        ],
      ]);
      if (config.json) {
        log(lines);
        printJson(summary);
      } else {
        process.stdout.write(`${lines}\n`);
      }
      if (summary.notPublished.length > 0) {
        log(`not published upstream, so not downloaded: ${summary.notPublished.join(', ')}`);
      }
    },
  );
}

/**
 * Read every record of the database in `config.dataDir` and report per record and in total. Checksum
 * mismatches and unreadable records are collected, not thrown.
 */
export async function verifyDatabase(config: VerifyConfig): Promise<VerifySummary> {
  const started = Date.now();
  const records = await listRecords(config.dataDir);
  const progress = new Progress('verify', records.length, ' records');
  const reports: RecordReport[] = new Array(records.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < records.length) {
      const i = next++;
      reports[i] = await verifyRecord(config, records[i]);
      progress.tick();
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.concurrency, records.length) }, worker));
  // Off a TTY the last tick already printed the 100% line; finish() would print it again.
  if (records.length > 0 && process.stderr.isTTY) progress.finish();

  const summary: VerifySummary = {
    records: records.length,
    signals: 0,
    annotations: 0,
    beats: 0,
    checksumMismatches: 0,
    beatsBySymbol: {},
    aami: { N: 0, S: 0, V: 0, F: 0, Q: 0 },
    unmappedBeats: 0,
    unreadableRecords: 0,
    problems: [],
    seconds: 0,
  };
  const bySymbol: Record<string, number> = {};
  for (const r of reports) {
    summary.signals += r.signals;
    summary.annotations += r.annotations;
    summary.beats += r.beats;
    summary.checksumMismatches += r.mismatches.length;
    for (const c of AAMI_CLASSES) summary.aami[c] += r.aami[c];
    for (const [s, n] of Object.entries(r.bySymbol)) bySymbol[s] = (bySymbol[s] ?? 0) + n;
    for (const m of r.mismatches) {
      summary.problems.push({
        record: r.record,
        signal: m.signal,
        problem: `signal ${m.signal} (${m.description}): ${m.problem}`,
      });
    }
    if (r.error !== undefined) {
      summary.unreadableRecords++;
      summary.problems.push({ record: r.record, problem: r.error });
    }
  }
  const aamiTotal = AAMI_CLASSES.reduce((n, c) => n + summary.aami[c], 0);
  summary.unmappedBeats = summary.beats - aamiTotal;
  summary.beatsBySymbol = Object.fromEntries(Object.entries(bySymbol).sort((a, b) => b[1] - a[1]));
  summary.seconds = round((Date.now() - started) / 1000, 3);

  const rendered = renderReport(reports, summary);
  if (config.json) log(rendered);
  else process.stdout.write(`${rendered}\n`);
  for (const p of summary.problems) log(`problem: record ${p.record}: ${p.problem}`);
  if (records.length === 0) log(`no records found in ${config.dataDir}`);
  return summary;
}

async function verifyRecord(config: VerifyConfig, record: string): Promise<RecordReport> {
  const report: RecordReport = {
    record,
    sampleRateHz: 0,
    signals: 0,
    frames: 0,
    lead: '',
    leadFallback: false,
    annotations: 0,
    beats: 0,
    aami: { N: 0, S: 0, V: 0, F: 0, Q: 0 },
    bySymbol: {},
    mismatches: [],
  };
  try {
    const { header, signals, mismatches } = await readSignals(config.dataDir, record, { checks: 'collect' });
    report.sampleRateHz = header.sampleRateHz;
    report.signals = signals.length;
    report.frames = signals.length > 0 ? signals[0].length / header.signals[0].samplesPerFrame : 0;
    report.mismatches = mismatches.map((m) => {
      // checkSignal names the signal in the error's field as "signal <i> (<description>)".
      const field = m.location.field ?? '';
      const signal = Number(/^signal (\d+)/.exec(field)?.[1] ?? -1);
      const marker = `field ${field}: `;
      const problem = m.message.slice(m.message.indexOf(marker) + marker.length);
      return { signal, description: header.signals[signal]?.description ?? '', problem };
    });
    if (header.signals.length > 0) {
      const lead = chooseLead(header);
      report.lead = `${lead.description}@${lead.index}`;
      report.leadFallback = lead.fallback;
    }
    const annotations = await readAnnotations(config.dataDir, record, config.annotator);
    const counts = countBeats(annotations);
    report.annotations = annotations.length;
    report.beats = counts.beats;
    report.aami = counts.aami;
    report.bySymbol = counts.bySymbol;
  } catch (err) {
    report.error = describeError(err);
  }
  return report;
}

function renderReport(reports: readonly RecordReport[], s: VerifySummary): string {
  const rows: Array<Array<string | number>> = [
    ['record', 'fs Hz', 'signals', 'frames', 'lead', 'annotations', 'beats', ...AAMI_CLASSES, 'checks'],
  ];
  for (const r of reports) {
    const status =
      r.error !== undefined
        ? 'UNREADABLE'
        : r.mismatches.length > 0
          ? `${r.mismatches.length} MISMATCH`
          : 'ok';
    rows.push([
      r.record,
      r.sampleRateHz,
      r.signals,
      r.frames,
      r.lead + (r.leadFallback ? ' (no MLII)' : ''),
      r.annotations,
      r.beats,
      ...AAMI_CLASSES.map((c) => r.aami[c]),
      status,
    ]);
  }
  rows.push([
    `all ${s.records}`,
    '',
    s.signals,
    '',
    '',
    s.annotations,
    s.beats,
    ...AAMI_CLASSES.map((c) => s.aami[c]),
    s.problems.length === 0 ? 'ok' : `${s.problems.length} problems`,
  ]);
  const symbols = Object.entries(s.beatsBySymbol)
    .map(([sym, n]) => `${sym} ${formatNumber(n)}`)
    .join(', ');
  return `${table(rows)}\nbeats by symbol: ${symbols}\nAAMI classes per de Chazal 2004 (e and j count as N).`;
}

/** Renders download progress (files and bytes) on one line of stderr, at most every 100 ms on a TTY. */
class DownloadBar {
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly startMs = Date.now();
  private lastMs = 0;
  private last: DownloadProgress | undefined;

  update(p: DownloadProgress): void {
    this.last = p;
    const now = Date.now();
    if (now - this.lastMs < (this.tty ? 100 : 2000)) return;
    this.lastMs = now;
    this.render(p, now);
  }

  finish(): void {
    if (this.last !== undefined) this.render(this.last, Date.now());
    if (this.tty) process.stderr.write('\n');
  }

  private render(p: DownloadProgress, now: number): void {
    const fraction = p.filesTotal > 0 ? Math.min(1, p.filesDone / p.filesTotal) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = (now - this.startMs) / 1000;
    const rate = seconds > 0 ? p.bytesDownloaded / 1e6 / seconds : 0;
    const line =
      `download ${p.phase} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.filesDone}/${p.filesTotal} files, ` +
      `${(p.bytesDownloaded / 1e6).toFixed(1)} MB downloaded (${rate.toFixed(1)} MB/s), ` +
      `${(p.bytesSkipped / 1e6).toFixed(1)} MB already present, ${seconds.toFixed(1)} s`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }
}

function positiveInt(value: string, field: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new ConfigError(`expected a positive integer, found "${value}"`, field);
  return n;
}

function nonNegativeInt(value: string, field: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`expected a non-negative integer, found "${value}"`, field);
  return n;
}

function parseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    return url.href;
  } catch {
    throw new ConfigError(`expected an http(s) URL, found "${value}"`, 'base-url');
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
