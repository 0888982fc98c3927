/**
 * Record-level access to a WFDB database directory: list its records, read a record's header, signals
 * and annotations, and choose the ECG lead to analyse. Files are read whole (asynchronously) and decoded
 * from memory. Record names may contain `/` (records in subdirectories, as in larger PhysioNet
 * databases); signal files are looked up next to their header.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ChecksumMismatchError, ConfigError, UnsupportedFormatError, WfdbFormatError } from '../errors';
import { parseAnnotations, type Annotation } from './annotations';
import { parseHeader, type WfdbHeader } from './header';
import { SUPPORTED_FORMATS, checkSignal, decodeGroup, signalGroups } from './signal';

/** What to do when a decoded signal disagrees with its header (first sample or checksum). */
export type SignalCheckMode = 'throw' | 'collect' | 'skip';

export interface ReadSignalsOptions {
  /** Indices (into `header.signals`) of the signals to return, in this order; all by default. */
  signals?: readonly number[];
  /**
   * `throw` (default): the first mismatch throws a `ChecksumMismatchError`; `collect`: mismatches are
   * returned in `mismatches`; `skip`: no checks.
   */
  checks?: SignalCheckMode;
}

export interface RecordSignals {
  header: WfdbHeader;
  /** Digital samples; `signals[k]` belongs to `header.signals[signalIndices[k]]`. */
  signals: Int16Array[];
  signalIndices: number[];
  /** Mismatches found with `checks: 'collect'` (empty otherwise). */
  mismatches: ChecksumMismatchError[];
}

/** The lead chosen for analysis. */
export interface LeadChoice {
  /** Index into `header.signals`. */
  index: number;
  description: string;
  /** True when the preferred lead is absent and the first signal was taken instead. */
  fallback: boolean;
  /** One line saying what was chosen and why, for logs. */
  reason: string;
}

/**
 * The records of a database: the lines of its `RECORDS` file when there is one, otherwise the names of
 * the `*.hea` files in `dataDir`, sorted.
 */
export async function listRecords(dataDir: string): Promise<string[]> {
  let text: string | undefined;
  try {
    text = await fs.readFile(path.join(dataDir, 'RECORDS'), 'latin1');
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (text !== undefined) {
    return text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
  }
  let entries: string[];
  try {
    entries = await fs.readdir(dataDir);
  } catch (err) {
    if (isNotFound(err)) {
      throw new ConfigError(
        `data directory ${dataDir} does not exist (run "ecgflow data download")`,
        'data-dir',
      );
    }
    throw err;
  }
  return entries
    .filter((e) => e.endsWith('.hea'))
    .map((e) => e.slice(0, -'.hea'.length))
    .sort();
}

/** Read and parse `<record>.hea`. */
export async function readHeader(dataDir: string, record: string): Promise<WfdbHeader> {
  const file = path.join(dataDir, `${record}.hea`);
  const text = (await readWhole(file, `header of record ${record}`)).toString('latin1');
  return parseHeader(text, file, path.posix.basename(record));
}

/**
 * Read a record's header and decode its signals (all of them, or `opts.signals`), validating each
 * decoded signal against the header's initial value and checksum. Only the signal files that hold the
 * requested signals are read.
 *
 * @example
 * const { header, signals } = await readSignals(dataDir, '100');
 * signals[0][0]; // 995
 */
export async function readSignals(
  dataDir: string,
  record: string,
  opts: ReadSignalsOptions = {},
): Promise<RecordSignals> {
  const header = await readHeader(dataDir, record);
  const checks = opts.checks ?? 'throw';
  const wanted = opts.signals ?? header.signals.map((_, i) => i);
  for (const i of wanted) {
    if (!Number.isInteger(i) || i < 0 || i >= header.signals.length) {
      throw new RangeError(
        `record ${record} has ${header.signals.length} signals, signal ${i} was requested`,
      );
    }
  }
  const wantedSet = new Set(wanted);
  const decoded = new Map<number, Int16Array>();
  const mismatches: ChecksumMismatchError[] = [];
  const groups = signalGroups(header.signals).filter((g) => g.signalIndices.some((i) => wantedSet.has(i)));

  await Promise.all(
    groups.map(async (group) => {
      const specs = group.signalIndices.map((i) => header.signals[i]);
      if (!SUPPORTED_FORMATS.includes(group.format)) {
        throw new UnsupportedFormatError(String(group.format), {
          source: header.source,
          line: specs[0].line,
          field: 'format',
        });
      }
      const file = path.join(dataDir, path.dirname(record), group.fileName);
      const data = await readWhole(file, `signal file of record ${record} (header line ${specs[0].line})`);
      const samples = decodeGroup(data, specs, header.frameCount, file);
      group.signalIndices.forEach((signalIndex, k) => {
        if (!wantedSet.has(signalIndex)) return;
        decoded.set(signalIndex, samples[k]);
        if (checks === 'skip') return;
        const problems = checkSignal(samples[k], header.signals[signalIndex], signalIndex, header.source);
        if (problems.length > 0 && checks === 'throw') throw problems[0];
        mismatches.push(...problems);
      });
    }),
  );
  return {
    header,
    signals: wanted.map((i) => decoded.get(i) as Int16Array),
    signalIndices: [...wanted],
    mismatches,
  };
}

/** Read `<record>.<annotator>` (MIT format); the reference annotator is `atr`. */
export async function readAnnotations(
  dataDir: string,
  record: string,
  annotator = 'atr',
): Promise<Annotation[]> {
  const file = path.join(dataDir, `${record}.${annotator}`);
  return parseAnnotations(await readWhole(file, `annotation file of record ${record}`), file);
}

/**
 * Choose the signal to analyse: the first whose description equals `preferred` (ignoring case), else the
 * first signal, with `fallback: true` so callers can say so. In MIT-BIH, MLII is signal 0 except in record
 * 114 (signal 1); records 102 and 104 have no MLII.
 */
export function chooseLead(header: WfdbHeader, preferred = 'MLII'): LeadChoice {
  if (header.signals.length === 0) {
    throw new WfdbFormatError(`record ${header.recordName} has no signals`, {
      source: header.source,
      line: 1,
    });
  }
  const want = preferred.trim().toLowerCase();
  const index = header.signals.findIndex((s) => s.description.trim().toLowerCase() === want);
  if (index >= 0) {
    const description = header.signals[index].description;
    return { index, description, fallback: false, reason: `${preferred} is signal ${index}` };
  }
  const description = header.signals[0].description;
  return {
    index: 0,
    description,
    fallback: true,
    reason: `record ${header.recordName} has no ${preferred}; using signal 0 (${description}) instead`,
  };
}

async function readWhole(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if (isNotFound(err)) throw new WfdbFormatError(`${what} not found`, { source: file });
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'ENOENT';
}
