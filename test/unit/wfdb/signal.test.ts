import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ChecksumMismatchError, UnsupportedFormatError, WfdbFormatError } from '../../../src/errors';
import { checksum16, toPhysical } from '../../../src/wfdb/signal';
import { readSignals } from '../../../src/wfdb/record';
import { copyRecord, requireDataDir, tempDir, writeRecord } from './fixtures';

describe('readSignals on MIT-BIH', () => {
  it('decodes the first frame of record 100 to 995, 1011', async () => {
    const { header, signals } = await readSignals(requireDataDir(), '100');
    assert.equal(signals.length, 2);
    assert.ok(signals[0] instanceof Int16Array);
    assert.equal(signals[0].length, 650000);
    assert.deepEqual([signals[0][0], signals[1][0]], [995, 1011]);
    assert.equal(checksum16(signals[0]), header.signals[0].checksum);
    assert.equal(checksum16(signals[1]), header.signals[1].checksum);
  });

  it('reads only the requested signals, in the requested order', async () => {
    const { signals, signalIndices } = await readSignals(requireDataDir(), '100', { signals: [1, 0] });
    assert.deepEqual(signalIndices, [1, 0]);
    assert.deepEqual([signals[0][0], signals[1][0]], [1011, 995]);
  });

  it('catches a flipped byte with the checksum', async () => {
    const dir = await tempDir();
    try {
      await copyRecord(requireDataDir(), dir, '100');
      const dat = path.join(dir, '100.dat');
      const bytes = await fs.readFile(dat);
      bytes[300001] ^= 0xff; // frame 100000: both signals change, the first sample does not
      await fs.writeFile(dat, bytes);
      await assert.rejects(readSignals(dir, '100'), (err: unknown) => {
        assert.ok(err instanceof ChecksumMismatchError);
        assert.match(
          err.message,
          /100\.hea, line 2, field signal 0 \(MLII\): checksum of the samples is -?\d+, the header says -22131/,
        );
        return true;
      });
      const collected = await readSignals(dir, '100', { checks: 'collect' });
      assert.deepEqual(
        collected.mismatches.map((m) => m.location.field),
        ['signal 0 (MLII)', 'signal 1 (V5)'],
      );
      const unchecked = await readSignals(dir, '100', { checks: 'skip' });
      assert.equal(unchecked.mismatches.length, 0);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('checks the first sample against initval', async () => {
    const dir = await tempDir();
    try {
      await copyRecord(requireDataDir(), dir, '100');
      const hea = path.join(dir, '100.hea');
      const text = await fs.readFile(hea, 'latin1');
      await fs.writeFile(hea, text.replace('1024 995 -22131', '1024 996 -22131'));
      await assert.rejects(readSignals(dir, '100'), {
        name: 'ChecksumMismatchError',
        message: /signal 0 \(MLII\): first sample is 995, the header's initial value is 996/,
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a truncated .dat with the byte offsets expected and found', async () => {
    const dir = await tempDir();
    try {
      await copyRecord(requireDataDir(), dir, '100');
      const dat = path.join(dir, '100.dat');
      await fs.truncate(dat, 1_000_000);
      await assert.rejects(readSignals(dir, '100'), (err: unknown) => {
        assert.ok(err instanceof WfdbFormatError);
        assert.equal(err.location.byteOffset, 1_000_000);
        assert.equal(err.location.source, dat);
        assert.match(
          err.message,
          /byte 1000000: file is truncated: .*up to offset 1950000, the file has 1000000/,
        );
        return true;
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown format such as 310, naming the file and the format', async () => {
    const dir = await tempDir();
    try {
      await copyRecord(requireDataDir(), dir, '100');
      const hea = path.join(dir, '100.hea');
      const text = await fs.readFile(hea, 'latin1');
      await fs.writeFile(hea, text.replaceAll('100.dat 212', '100.dat 310'));
      await assert.rejects(readSignals(dir, '100'), (err: unknown) => {
        assert.ok(err instanceof UnsupportedFormatError);
        assert.equal(err.location.source, hea);
        assert.match(err.message, /100\.hea, line 2, field format: unsupported format 310/);
        return true;
      });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('readSignals on synthetic records', () => {
  const ramp = (n: number, scale: number, offset: number, min: number, max: number): Int16Array =>
    Int16Array.from({ length: n }, (_, i) => {
      const span = max - min + 1;
      return min + ((((i * scale + offset) % span) + span) % span);
    });

  it('round-trips format 16 over the whole int16 range', async () => {
    const dir = await tempDir();
    try {
      const a = ramp(1001, 6553, -32768, -32768, 32767);
      const b = ramp(1001, -7, 5, -32768, 32767);
      await writeRecord(dir, 'f16', 500, 16, [
        { samples: a, description: 'ECG', adcZero: 0 },
        { samples: b, description: 'RESP', gain: 1000, units: 'uV' },
      ]);
      const { header, signals } = await readSignals(dir, 'f16');
      assert.equal(header.sampleRateHz, 500);
      assert.deepEqual(signals[0], a);
      assert.deepEqual(signals[1], b);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('round-trips a 3-channel 250 Hz format 212 record with an odd trailing sample', async () => {
    const dir = await tempDir();
    try {
      // 3 signals x 777 frames = 2331 samples: the last 3-byte group holds one sample in 2 bytes.
      const sigs = [
        ramp(777, 37, 0, -2048, 2047),
        ramp(777, -11, 100, -2048, 2047),
        ramp(777, 1, -2048, -2048, 2047),
      ];
      await writeRecord(
        dir,
        'tri-lead_x',
        250,
        212,
        sigs.map((samples, i) => ({ samples, description: `lead ${i}`, baseline: 10 * i })),
      );
      const stat = await fs.stat(path.join(dir, 'tri-lead_x.dat'));
      assert.equal(stat.size, 1165 * 3 + 2);
      const { header, signals } = await readSignals(dir, 'tri-lead_x');
      assert.equal(header.sampleRateHz, 250);
      assert.equal(header.signals.length, 3);
      signals.forEach((s, i) => assert.deepEqual(s, sigs[i], `signal ${i}`));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('round-trips signals with several samples per frame', async () => {
    const dir = await tempDir();
    try {
      const fast = ramp(600, 13, 0, -2048, 2047); // 3 samples per frame
      const slow = ramp(200, -5, 7, -2048, 2047);
      await writeRecord(dir, 'spf', 100, 212, [
        { samples: fast, description: 'fast', samplesPerFrame: 3 },
        { samples: slow, description: 'slow' },
      ]);
      const { signals } = await readSignals(dir, 'spf');
      assert.deepEqual(signals[0], fast);
      assert.deepEqual(signals[1], slow);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('reads signals stored in separate files, and takes the length from the file when nsamp is 0', async () => {
    const dir = await tempDir();
    try {
      const a = ramp(301, 3, 0, -2048, 2047);
      const b = ramp(301, 9, 1, -32768, 32767);
      await writeRecord(dir, 'a', 360, 212, [{ samples: a, description: 'A' }]);
      await writeRecord(dir, 'b', 360, 16, [{ samples: b, description: 'B' }]);
      const lineOf = async (name: string): Promise<string> =>
        (await fs.readFile(path.join(dir, `${name}.hea`), 'latin1')).split('\r\n')[1];
      await fs.writeFile(
        path.join(dir, 'two.hea'),
        `two 2 360 0\n${await lineOf('a')}\n${await lineOf('b')}\n`,
      );
      const { header, signals } = await readSignals(dir, 'two');
      assert.equal(header.frameCount, undefined);
      assert.deepEqual(signals[0], a);
      assert.deepEqual(signals[1], b);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('toPhysical', () => {
  it('computes (digital - baseline) / gain into a Float32Array', () => {
    const out = toPhysical(Int16Array.from([1024, 1224, 824, 995]), { adcGain: 200, baseline: 1024 });
    assert.ok(out instanceof Float32Array);
    assert.deepEqual(Array.from(out), [0, 1, -1, Math.fround(-29 / 200)]);
    const reuse = new Float32Array(8);
    assert.equal(toPhysical(Int16Array.from([2]), { adcGain: 2, baseline: 0 }, reuse), reuse);
    assert.equal(reuse[0], 1);
    assert.throws(
      () => toPhysical(new Int16Array(3), { adcGain: 1, baseline: 0 }, new Float32Array(2)),
      RangeError,
    );
  });
});
