/**
 * Download a WFDB database from PhysioNet (or any server with the same layout) into a data directory.
 *
 * Every file is checked against the database's `SHA256SUMS.txt`: a file is written under a temporary name
 * and renamed into place only when its hash matches, so the data directory never holds a partial or
 * corrupted file; a mismatch is a `DownloadError` and the bytes are deleted. Files already present with the
 * right hash are skipped, so an interrupted download can simply be run again. Transient failures (network
 * errors, HTTP 408/429/5xx, cut-off transfers) are retried with exponential back-off; the number of
 * simultaneous requests is bounded.
 *
 * Which files make up a record is read from the database itself: `RECORDS` lists the records, each
 * record's header names its signal files, and `ANNOTATORS` (when present) names the annotation files.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DownloadError } from '../errors';
import { parseHeader } from '../wfdb/header';

/** PhysioNet's MIT-BIH Arrhythmia Database, version 1.0.0. */
export const DEFAULT_BASE_URL = 'https://physionet.org/files/mitdb/1.0.0/';

export interface DownloadOptions {
  /** Directory the database is written to (created if needed). */
  dataDir: string;
  /** URL of the database's top folder; `DEFAULT_BASE_URL` by default. */
  baseUrl?: string;
  /** Simultaneous requests (default 4). */
  concurrency?: number;
  /** Retries after a transient failure, per file (default 3). */
  retries?: number;
  /** Delay before the first retry; doubles each time (default 1000 ms). */
  retryDelayMs?: number;
  /** A request fails (and is retried) when no data arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  /** Annotator names (file extensions) to fetch; by default those listed in `ANNOTATORS`, else `atr`. */
  annotators?: readonly string[];
  /** Only these records (each must be listed in `RECORDS`); all by default. */
  records?: readonly string[];
  /** Called as files start, progress and finish; cheap enough to call per received chunk. */
  onProgress?: (progress: DownloadProgress) => void;
  /** `fetch` implementation (the global one by default). */
  fetch?: typeof fetch;
}

/** A snapshot of a download in progress. */
export interface DownloadProgress {
  /** `index`: RECORDS, ANNOTATORS, SHA256SUMS; `headers`: the `.hea` files; `files`: signals and annotations. */
  phase: 'index' | 'headers' | 'files';
  /** Files finished (downloaded or already present), of `filesTotal` known so far. */
  filesDone: number;
  filesTotal: number;
  /** Bytes received in this run. */
  bytesDownloaded: number;
  /** Bytes of files that were already present with the right hash. */
  bytesSkipped: number;
  /** The file the event is about. */
  file: string;
}

export interface DownloadSummary {
  baseUrl: string;
  dataDir: string;
  records: number;
  /** Files that are now in place and verified. */
  files: number;
  downloaded: number;
  skipped: number;
  bytesDownloaded: number;
  bytesSkipped: number;
  /** Retries that were needed (transient failures that were overcome). */
  retries: number;
  /** Annotation files not published for some records (`<record>.<annotator>`), so not fetched. */
  notPublished: string[];
  seconds: number;
}

/**
 * Parse a checksum listing into path -> hash: `<hex> <path>` per line as PhysioNet writes it, or `sha256sum`'s
 * `<hex>  <path>` and `<hex> *<path>`.
 */
export function parseSha256Sums(text: string, source: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([0-9a-fA-F]{64}) [ *]?(.+)$/.exec(line);
    if (m === null) {
      throw new DownloadError('expected "<64 hex digits> <file>"', { source, line: i + 1 }, false);
    }
    sums.set(m[2], m[1].toLowerCase());
  });
  return sums;
}

/**
 * Download (or complete, or check) a database in `opts.dataDir`. Resolves with a summary once every file
 * is in place and verified; rejects with a `DownloadError` naming the file and URL otherwise.
 *
 * @example
 * await downloadDatabase({ dataDir: 'data/mitdb', onProgress: (p) => render(p) });
 */
export async function downloadDatabase(opts: DownloadOptions): Promise<DownloadSummary> {
  const started = Date.now();
  const baseUrl = withTrailingSlash(opts.baseUrl ?? DEFAULT_BASE_URL);
  const dataDir = path.resolve(opts.dataDir);
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const client = new Client(baseUrl, dataDir, opts);
  await fs.mkdir(dataDir, { recursive: true });

  // The checksum list is the root of trust: it cannot be verified itself, only fetched.
  const sumsText = (await client.fetchBytes('SHA256SUMS.txt')).toString('utf8');
  const sums = parseSha256Sums(sumsText, new URL('SHA256SUMS.txt', baseUrl).href);
  client.sums = sums;
  await writeAtomically(path.join(dataDir, 'SHA256SUMS.txt'), Buffer.from(sumsText, 'utf8'));

  client.phase = 'index';
  client.filesTotal = sums.has('ANNOTATORS') ? 2 : 1;
  await client.ensure('RECORDS');
  const published = (await fs.readFile(path.join(dataDir, 'RECORDS'), 'latin1'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let annotators = opts.annotators;
  if (sums.has('ANNOTATORS')) {
    await client.ensure('ANNOTATORS');
    const listed = (await fs.readFile(path.join(dataDir, 'ANNOTATORS'), 'latin1'))
      .split(/\r?\n/)
      .map((l) => l.trim().split(/\s+/)[0])
      .filter((a) => a !== '');
    annotators ??= listed;
  }
  annotators ??= ['atr'];

  let records = published;
  if (opts.records !== undefined) {
    const known = new Set(published);
    const unknown = opts.records.filter((r) => !known.has(r));
    if (unknown.length > 0) {
      throw new DownloadError(
        `records not listed in RECORDS: ${unknown.join(', ')}`,
        { source: client.url('RECORDS') },
        false,
      );
    }
    records = [...opts.records];
  }

  client.phase = 'headers';
  client.filesTotal += records.length;
  await mapPool(records, concurrency, (r) => client.ensure(`${r}.hea`));

  // Each header names its signal files; annotation files exist only where SHA256SUMS lists them.
  const files: string[] = [];
  const notPublished: string[] = [];
  for (const record of records) {
    const rel = `${record}.hea`;
    const text = await fs.readFile(client.localPath(rel), 'latin1');
    const header = parseHeader(text, client.localPath(rel), path.posix.basename(record));
    const dir = path.posix.dirname(record);
    const signalFiles = new Set(header.signals.map((s) => s.fileName).filter((f) => f !== '-' && f !== '~'));
    for (const f of signalFiles) files.push(dir === '.' ? f : `${dir}/${f}`);
    for (const a of annotators) {
      const annFile = `${record}.${a}`;
      if (sums.has(annFile)) files.push(annFile);
      else notPublished.push(annFile);
    }
  }
  client.phase = 'files';
  client.filesTotal += files.length;
  await mapPool(files, concurrency, (f) => client.ensure(f));

  return {
    baseUrl,
    dataDir,
    records: records.length,
    files: client.filesDone,
    downloaded: client.downloaded,
    skipped: client.skipped,
    bytesDownloaded: client.bytesDownloaded,
    bytesSkipped: client.bytesSkipped,
    retries: client.retries,
    notPublished,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Per-download state and the fetch/verify/write logic for one file. */
class Client {
  sums = new Map<string, string>();
  phase: DownloadProgress['phase'] = 'index';
  filesTotal = 0;
  filesDone = 0;
  downloaded = 0;
  skipped = 0;
  bytesDownloaded = 0;
  bytesSkipped = 0;
  retries = 0;
  private readonly fetchImpl: typeof fetch;
  private readonly maxRetries: number;
  private readonly retryDelayMs: number;
  private readonly idleTimeoutMs: number;

  constructor(
    private readonly baseUrl: string,
    private readonly dataDir: string,
    private readonly opts: DownloadOptions,
  ) {
    this.fetchImpl = opts.fetch ?? fetch;
    this.maxRetries = Math.max(0, opts.retries ?? 3);
    this.retryDelayMs = Math.max(0, opts.retryDelayMs ?? 1000);
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  }

  url(rel: string): string {
    return new URL(rel.split('/').map(encodeURIComponent).join('/'), this.baseUrl).href;
  }

  /** Local path of a database file; names that would leave the data directory are refused. */
  localPath(rel: string): string {
    const dest = path.resolve(this.dataDir, rel);
    if (rel.includes('\\') || path.isAbsolute(rel) || !dest.startsWith(this.dataDir + path.sep)) {
      throw new DownloadError(
        `refusing file name "${rel}": it points outside the data directory`,
        { source: this.url('') },
        false,
      );
    }
    return dest;
  }

  /** Make sure `rel` is present with the hash SHA256SUMS gives, downloading it if needed. */
  async ensure(rel: string): Promise<void> {
    const expected = this.sums.get(rel);
    const url = this.url(rel);
    if (expected === undefined) {
      throw new DownloadError(
        `${rel} is not listed in SHA256SUMS.txt, so it cannot be verified`,
        { source: url },
        false,
      );
    }
    const dest = this.localPath(rel);
    const present = await hashFile(dest);
    if (present !== undefined && present.sha256 === expected) {
      this.skipped++;
      this.bytesSkipped += present.bytes;
      this.finishFile(rel);
      return;
    }
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await this.withRetries(url, () => this.downloadTo(url, dest, expected, rel));
    this.downloaded++;
    this.finishFile(rel);
  }

  /** Fetch a small file into memory (used for SHA256SUMS.txt, which has nothing to be checked against). */
  async fetchBytes(rel: string): Promise<Buffer> {
    const url = this.url(rel);
    return this.withRetries(url, async () => {
      const { res, watchdog } = await this.request(url);
      try {
        const body = Buffer.from(await res.arrayBuffer());
        this.bytesDownloaded += body.length;
        return body;
      } catch (err) {
        throw new DownloadError(`transfer interrupted: ${watchdog.explain(err)}`, { source: url }, true, err);
      } finally {
        watchdog.stop();
      }
    });
  }

  /** Start a request; the watchdog aborts it when no data arrives for `idleTimeoutMs`. */
  private async request(url: string): Promise<{ res: Response; watchdog: Watchdog }> {
    const watchdog = new Watchdog(this.idleTimeoutMs);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { signal: watchdog.signal });
    } catch (err) {
      watchdog.stop();
      throw new DownloadError(`request failed: ${watchdog.explain(err)}`, { source: url }, true, err);
    }
    if (!res.ok) {
      watchdog.stop();
      await res.body?.cancel().catch(() => undefined);
      const retriable = res.status >= 500 || res.status === 408 || res.status === 429;
      throw new DownloadError(`HTTP ${res.status} ${res.statusText}`.trim(), { source: url }, retriable);
    }
    return { res, watchdog };
  }

  private async downloadTo(url: string, dest: string, expected: string, rel: string): Promise<void> {
    const { res, watchdog } = await this.request(url);
    const temp = `${dest}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
    const hash = createHash('sha256');
    let received = 0;
    const handle = await fs.open(temp, 'w').catch((err: unknown) => {
      watchdog.stop();
      throw err;
    });
    try {
      try {
        if (res.body !== null) {
          for await (const chunk of res.body) {
            watchdog.touch();
            hash.update(chunk);
            await handle.write(chunk);
            received += chunk.length;
            this.bytesDownloaded += chunk.length;
            this.report(rel);
          }
        }
      } catch (err) {
        throw new DownloadError(
          `transfer interrupted after ${received} bytes: ${watchdog.explain(err)}`,
          { source: url },
          true,
          err,
        );
      } finally {
        watchdog.stop();
        await handle.close();
      }
      // Content-Length counts encoded bytes; it can only be compared when the body was sent as is.
      const encoding = res.headers.get('content-encoding');
      const length = Number(res.headers.get('content-length') ?? NaN);
      if ((encoding === null || encoding === 'identity') && Number.isFinite(length) && length !== received) {
        throw new DownloadError(
          `received ${received} bytes, the server announced ${length}`,
          { source: url },
          true,
        );
      }
      const actual = hash.digest('hex');
      if (actual !== expected) {
        throw new DownloadError(
          `SHA-256 mismatch for ${rel}: SHA256SUMS.txt says ${expected}, the download has ${actual} (file not kept)`,
          { source: url },
          false,
        );
      }
      await fs.rename(temp, dest);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }

  private async withRetries<T>(url: string, attempt: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const retriable = err instanceof DownloadError && err.retriable;
        if (!retriable) throw err;
        if (i >= this.maxRetries) {
          const last = describeCause(err).replace(`${url}: `, '');
          throw new DownloadError(
            `gave up after ${i + 1} attempts, the last one failed with: ${last}`,
            { source: url },
            true,
            err,
          );
        }
        this.retries++;
        await sleep(this.retryDelayMs * 2 ** i);
      }
    }
  }

  private finishFile(rel: string): void {
    this.filesDone++;
    this.report(rel);
  }

  private report(file: string): void {
    this.opts.onProgress?.({
      phase: this.phase,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
      bytesDownloaded: this.bytesDownloaded,
      bytesSkipped: this.bytesSkipped,
      file,
    });
  }
}

/** Aborts a request when no data has arrived for `idleMs`; `touch()` on every chunk. */
class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(private readonly idleMs: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort();
    }, this.idleMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** Describe a failure, saying so when it was this watchdog that aborted the request. */
  explain(err: unknown): string {
    return this.fired ? `no data for ${this.idleMs / 1000} s` : describeCause(err);
  }
}

/** SHA-256 and size of a file, or undefined when it does not exist. */
async function hashFile(file: string): Promise<{ sha256: string; bytes: number } | undefined> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function writeAtomically(dest: string, data: Buffer): Promise<void> {
  const temp = `${dest}.${process.pid}-${randomBytes(4).toString('hex')}.part`;
  try {
    await fs.writeFile(temp, data);
    await fs.rename(temp, dest);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Run `fn` over `items` with at most `limit` calls in flight; stops starting new ones after a failure. */
async function mapPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
