import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { AAMI_CLASSES, countBeats, hasPacedBeats } from '../../../src/wfdb/labels';
import { chooseLead, listRecords, readAnnotations, readHeader, readSignals } from '../../../src/wfdb/record';
import { checksum16 } from '../../../src/wfdb/signal';
import { tempDir, requireDataDir, writeRecord } from './fixtures';

describe('records', () => {
  it('lists the 48 MIT-BIH records from RECORDS', async () => {
    const records = await listRecords(requireDataDir());
    assert.equal(records.length, 48);
    assert.equal(records[0], '100');
    assert.equal(records[47], '234');
  });

  it('lists *.hea files, sorted, when there is no RECORDS file', async () => {
    const dir = await tempDir();
    try {
      for (const name of ['b2', 'a1', 'c3']) {
        await writeRecord(dir, name, 128, 16, [{ samples: Int16Array.from([1, 2, 3]), description: 'ECG' }]);
      }
      assert.deepEqual(await listRecords(dir), ['a1', 'b2', 'c3']);
      await fs.writeFile(path.join(dir, 'RECORDS'), 'c3\r\n\r\na1\r\n');
      assert.deepEqual(await listRecords(dir), ['c3', 'a1']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('says which data directory is missing', async () => {
    await assert.rejects(listRecords(path.join(requireDataDir(), 'no-such-dir')), {
      name: 'ConfigError',
      message: /no-such-dir does not exist/,
    });
    await assert.rejects(readHeader(requireDataDir(), 'no-such-record'), {
      name: 'WfdbFormatError',
      message: /no-such-record\.hea: header of record no-such-record not found/,
    });
  });

  it('chooses MLII: channel 1 in record 114, a stated fallback in 102 and 104', async () => {
    const dir = requireDataDir();
    assert.deepEqual(chooseLead(await readHeader(dir, '100')), {
      index: 0,
      description: 'MLII',
      fallback: false,
      reason: 'MLII is signal 0',
    });
    const r114 = chooseLead(await readHeader(dir, '114'));
    assert.equal(r114.index, 1);
    assert.equal(r114.description, 'MLII');
    assert.equal(r114.fallback, false);
    for (const record of ['102', '104']) {
      const lead = chooseLead(await readHeader(dir, record));
      assert.equal(lead.index, 0);
      assert.equal(lead.fallback, true);
      assert.match(lead.reason, new RegExp(`record ${record} has no MLII; using signal 0 \\(V5\\) instead`));
    }
    const custom = chooseLead(await readHeader(dir, '100'), 'v5');
    assert.equal(custom.index, 1);
  });

  it('reads the whole database with the reference counts of the spec', async () => {
    const dir = requireDataDir();
    const started = Date.now();
    const records = await listRecords(dir);
    let signals = 0;
    let annotations = 0;
    const paced: string[] = [];
    const bySymbol: Record<string, number> = {};
    const aami = { N: 0, S: 0, V: 0, F: 0, Q: 0 };
    let beats = 0;
    for (const record of records) {
      const rec = await readSignals(dir, record);
      rec.signals.forEach((s, i) => assert.equal(checksum16(s), rec.header.signals[i].checksum));
      signals += rec.signals.length;
      const anns = await readAnnotations(dir, record);
      annotations += anns.length;
      if (hasPacedBeats(anns)) paced.push(record);
      const counts = countBeats(anns);
      beats += counts.beats;
      for (const [s, n] of Object.entries(counts.bySymbol)) bySymbol[s] = (bySymbol[s] ?? 0) + n;
      for (const c of AAMI_CLASSES) aami[c] += counts.aami[c];
    }
    assert.equal(records.length, 48);
    assert.equal(signals, 96);
    assert.equal(annotations, 112_647);
    assert.equal(beats, 109_494);
    // prettier-ignore
    assert.deepEqual(bySymbol, {
      N: 75_052, L: 8_075, R: 7_259, V: 7_130, '/': 7_028, A: 2_546, f: 982, F: 803, j: 229, a: 150,
      E: 106, J: 83, Q: 33, e: 16, S: 2,
    });
    assert.deepEqual(aami, { N: 90_631, S: 2_781, V: 7_236, F: 803, Q: 8_043 });
    assert.deepEqual(paced, ['102', '104', '107', '217']);
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  });
});
