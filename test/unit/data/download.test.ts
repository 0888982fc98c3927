import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DownloadError } from '../../../src/errors';
import { downloadDatabase, parseSha256Sums, type DownloadProgress } from '../../../src/data/download';
import { readAnnotations, readSignals } from '../../../src/wfdb/record';
import { encodeAnnotations, tempDir, writeRecord } from '../wfdb/fixtures';

/** A tiny WFDB database served over HTTP on 127.0.0.1, with hooks to misbehave per file. */
class FakePhysioNet {
  readonly files = new Map<string, Buffer>();
  readonly requests = new Map<string, number>();
  /** Serve these bytes instead of the real ones (the hash in SHA256SUMS stays the real one). */
  readonly corrupt = new Map<string, Buffer>();
  /** Answer this status for the first n requests of a file. */
  readonly failures = new Map<string, { status: number; times: number }>();
  /** Send half of the file and then nothing, for the first n requests of a file. */
  readonly stalls = new Map<string, number>();
  private server: http.Server | undefined;
  baseUrl = '';

  async build(): Promise<void> {
    const dir = await tempDir('ecgflow-fakedb-');
    try {
      const ramp = (n: number, k: number): Int16Array =>
        Int16Array.from({ length: n }, (_, i) => ((i * k) % 2000) - 1000);
      await writeRecord(dir, 'r1', 250, 16, [
        { samples: ramp(2500, 7), description: 'II' },
        { samples: ramp(2500, 3), description: 'V1' },
      ]);
      await writeRecord(dir, 'r2', 500, 212, [{ samples: ramp(3001, 11), description: 'ECG' }]);
      for (const f of ['r1.hea', 'r1.dat', 'r2.hea', 'r2.dat'])
        this.files.set(f, await fs.readFile(path.join(dir, f)));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    // r2 has no reference annotations upstream, as happens in real databases.
    this.files.set(
      'r1.atr',
      encodeAnnotations([
        { sample: 10, code: 1 },
        { sample: 260, code: 5 },
      ]),
    );
    this.files.set('RECORDS', Buffer.from('r1\nr2\n'));
    this.files.set('ANNOTATORS', Buffer.from('atr\treference beat annotations\n'));
    this.files.set('r1.xws', Buffer.from('listed but never needed'));
    this.sign();
  }

  /** Replace a file (or add one) and rewrite SHA256SUMS.txt to match. */
  setFile(name: string, data: Buffer): void {
    this.files.set(name, data);
    this.sign();
  }

  private sign(): void {
    this.files.delete('SHA256SUMS.txt');
    const sums = [...this.files].map(
      ([name, data]) => `${createHash('sha256').update(data).digest('hex')} ${name}`,
    );
    this.files.set('SHA256SUMS.txt', Buffer.from(`${sums.join('\n')}\n`));
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const name = decodeURIComponent((req.url ?? '').replace(/^\/db\//, ''));
      this.requests.set(name, (this.requests.get(name) ?? 0) + 1);
      const failure = this.failures.get(name);
      if (failure !== undefined && failure.times > 0) {
        failure.times--;
        res.writeHead(failure.status).end('try again later');
        return;
      }
      const body = this.corrupt.get(name) ?? this.files.get(name);
      if (body === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      const stalls = this.stalls.get(name) ?? 0;
      if (stalls > 0) {
        this.stalls.set(name, stalls - 1);
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, body.length >> 1));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      // Two chunks, so progress sees the bytes arrive.
      res.write(body.subarray(0, body.length >> 1));
      res.end(body.subarray(body.length >> 1));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}/db/`;
  }

  reset(): void {
    this.requests.clear();
    this.corrupt.clear();
    this.failures.clear();
    this.stalls.clear();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('downloadDatabase', () => {
  const server = new FakePhysioNet();
  before(async () => {
    await server.build();
    await server.start();
  });
  after(() => server.stop());

  const withDataDir = async (fn: (dataDir: string) => Promise<void>): Promise<void> => {
    server.reset();
    const dir = await tempDir('ecgflow-download-');
    try {
      await fn(path.join(dir, 'nested', 'mitdb'));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  };

  const leftovers = async (dataDir: string): Promise<string[]> =>
    (await fs.readdir(dataDir).catch(() => [] as string[])).filter((f) => f.endsWith('.part'));

  it('downloads every record file, verifies it, and skips verified files on the next run', () =>
    withDataDir(async (dataDir) => {
      const events: DownloadProgress[] = [];
      const summary = await downloadDatabase({
        dataDir,
        baseUrl: server.baseUrl.replace(/\/$/, ''), // a missing trailing slash is fine
        retryDelayMs: 1,
        onProgress: (p) => events.push({ ...p }),
      });
      const wanted = ['RECORDS', 'ANNOTATORS', 'r1.hea', 'r2.hea', 'r1.dat', 'r2.dat', 'r1.atr'];
      for (const f of wanted) {
        assert.deepEqual(await fs.readFile(path.join(dataDir, f)), server.files.get(f), f);
      }
      assert.equal(server.requests.get('r1.xws'), undefined, 'files outside the records are not fetched');
      assert.deepEqual(await leftovers(dataDir), []);
      assert.equal(summary.records, 2);
      assert.equal(summary.files, wanted.length);
      assert.equal(summary.downloaded, wanted.length);
      assert.equal(summary.skipped, 0);
      assert.equal(summary.retries, 0);
      assert.deepEqual(summary.notPublished, ['r2.atr']);
      const bytes = wanted.reduce((n, f) => n + (server.files.get(f)?.length ?? 0), 0);
      assert.equal(summary.bytesDownloaded, bytes + (server.files.get('SHA256SUMS.txt')?.length ?? 0));
      const last = events[events.length - 1];
      assert.deepEqual(
        [last.phase, last.filesDone, last.filesTotal],
        ['files', wanted.length, wanted.length],
      );
      assert.ok(events.some((e) => e.filesDone < e.filesTotal && e.bytesDownloaded > 0));

      // The result is a readable WFDB database.
      const { signals } = await readSignals(dataDir, 'r2');
      assert.equal(signals[0].length, 3001);
      assert.equal((await readAnnotations(dataDir, 'r1')).length, 2);

      server.reset();
      const again = await downloadDatabase({ dataDir, baseUrl: server.baseUrl, retryDelayMs: 1 });
      assert.equal(again.downloaded, 0);
      assert.equal(again.skipped, wanted.length);
      assert.deepEqual([...server.requests.keys()], ['SHA256SUMS.txt']);
    }));

  it('fails with a hash error on a corrupted file and never keeps it', () =>
    withDataDir(async (dataDir) => {
      const bad = Buffer.from(server.files.get('r1.dat') ?? Buffer.alloc(0));
      bad[100] ^= 0x01;
      server.corrupt.set('r1.dat', bad);
      await assert.rejects(
        downloadDatabase({ dataDir, baseUrl: server.baseUrl, retryDelayMs: 1 }),
        (err: unknown) => {
          assert.ok(err instanceof DownloadError);
          assert.equal(err.retriable, false);
          assert.equal(err.location.source, `${server.baseUrl}r1.dat`);
          assert.match(
            err.message,
            /SHA-256 mismatch for r1\.dat: SHA256SUMS\.txt says [0-9a-f]{64}, the download has [0-9a-f]{64} \(file not kept\)/,
          );
          return true;
        },
      );
      await assert.rejects(fs.access(path.join(dataDir, 'r1.dat')), { code: 'ENOENT' });
      assert.deepEqual(await leftovers(dataDir), []);
      assert.equal(server.requests.get('r1.dat'), 1, 'a hash mismatch is not retried');
    }));

  it('retries a transient HTTP 500 and then succeeds', () =>
    withDataDir(async (dataDir) => {
      server.failures.set('r2.dat', { status: 500, times: 1 });
      const summary = await downloadDatabase({ dataDir, baseUrl: server.baseUrl, retryDelayMs: 1 });
      assert.equal(server.requests.get('r2.dat'), 2);
      assert.equal(summary.retries, 1);
      assert.deepEqual(await fs.readFile(path.join(dataDir, 'r2.dat')), server.files.get('r2.dat'));
    }));

  it('aborts and retries a transfer that stalls', () =>
    withDataDir(async (dataDir) => {
      server.stalls.set('r1.dat', 1);
      const summary = await downloadDatabase({
        dataDir,
        baseUrl: server.baseUrl,
        retryDelayMs: 1,
        idleTimeoutMs: 200,
      });
      assert.equal(server.requests.get('r1.dat'), 2);
      assert.equal(summary.retries, 1);
      assert.deepEqual(await fs.readFile(path.join(dataDir, 'r1.dat')), server.files.get('r1.dat'));
      assert.deepEqual(await leftovers(dataDir), []);
    }));

  it('gives up after the configured retries, and does not retry a 404', () =>
    withDataDir(async (dataDir) => {
      server.failures.set('r1.hea', { status: 503, times: 100 });
      await assert.rejects(
        downloadDatabase({ dataDir, baseUrl: server.baseUrl, retries: 2, retryDelayMs: 1 }),
        {
          name: 'DownloadError',
          message: /r1\.hea: gave up after 3 attempts, the last one failed with: HTTP 503/,
        },
      );
      assert.equal(server.requests.get('r1.hea'), 3);

      server.reset();
      server.failures.set('r2.dat', { status: 404, times: 100 });
      await assert.rejects(downloadDatabase({ dataDir, baseUrl: server.baseUrl, retryDelayMs: 1 }), {
        name: 'DownloadError',
        message: /r2\.dat: HTTP 404/,
      });
      assert.equal(server.requests.get('r2.dat'), 1);
    }));

  it('refuses records that are not listed, and files it cannot verify', () =>
    withDataDir(async (dataDir) => {
      await assert.rejects(downloadDatabase({ dataDir, baseUrl: server.baseUrl, records: ['r9'] }), {
        name: 'DownloadError',
        message: /records not listed in RECORDS: r9/,
      });
      const sums = parseSha256Sums((server.files.get('SHA256SUMS.txt') ?? '').toString(), 'SHA256SUMS.txt');
      assert.equal(sums.size, 8);
      assert.equal(sums.get('r1.xws'), createHash('sha256').update('listed but never needed').digest('hex'));

      // A header naming a signal file that SHA256SUMS does not list: nothing unverified is downloaded.
      const original = server.files.get('r2.hea') ?? Buffer.alloc(0);
      server.setFile(
        'r2.hea',
        Buffer.from(original.toString('latin1').replace('r2.dat', 'unlisted.dat'), 'latin1'),
      );
      try {
        await assert.rejects(downloadDatabase({ dataDir, baseUrl: server.baseUrl, retryDelayMs: 1 }), {
          name: 'DownloadError',
          message: /unlisted\.dat: unlisted\.dat is not listed in SHA256SUMS\.txt, so it cannot be verified/,
        });
        assert.equal(server.requests.get('unlisted.dat'), undefined);
      } finally {
        server.setFile('r2.hea', original);
      }
      assert.throws(() => parseSha256Sums('abc  file\n', 'SHA256SUMS.txt'), {
        name: 'DownloadError',
        message: /SHA256SUMS\.txt, line 1: expected "<64 hex digits> <file>"/,
      });
    }));
});
