import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DE_CHAZAL_DS1, DE_CHAZAL_DS2, MITBIH_PACED_RECORDS } from '../../../src/protocols/mitbih';
import { assignSplit, defaultSplitConfig, isTestBeat, protocolIncludes } from '../../../src/protocols/split';

describe('split protocols', () => {
  it('intra: deterministic per beat, independent of order, with the expected shares', () => {
    const config = defaultSplitConfig('intra', 42);
    const beats = Array.from({ length: 20_000 }, (_, i) => [`${100 + (i % 48)}`, 1000 + 37 * i] as const);
    const first = beats.map(([s, r]) => assignSplit(config, s, r));
    const reversed = [...beats]
      .reverse()
      .map(([s, r]) => assignSplit(config, s, r))
      .reverse();
    assert.deepEqual(reversed, first, 'same answer in any processing order');
    const share = (split: string) => first.filter((x) => x === split).length / beats.length;
    assert.ok(Math.abs(share('test') - 0.2) < 0.01, `test ${share('test')}`);
    assert.ok(Math.abs(share('validation') - 0.08) < 0.01, `validation ${share('validation')}`);
    assert.ok(Math.abs(share('train') - 0.72) < 0.01, `train ${share('train')}`);
    // Another seed gives another split; the same seed the same one.
    const other = beats.map(([s, r]) => assignSplit(defaultSplitConfig('intra', 43), s, r));
    assert.notDeepEqual(other, first);
    assert.deepEqual(
      beats.map(([s, r]) => assignSplit(defaultSplitConfig('intra', 42), s, r)),
      first,
    );
  });

  it('inter: DS1 train, DS2 test, paced records excluded', () => {
    const config = defaultSplitConfig('inter');
    assert.equal(DE_CHAZAL_DS1.length, 22);
    assert.equal(DE_CHAZAL_DS2.length, 22);
    for (const r of DE_CHAZAL_DS1) assert.equal(assignSplit(config, r, 1234), 'train');
    for (const r of DE_CHAZAL_DS2) assert.equal(assignSplit(config, r, 1234), 'test');
    for (const r of MITBIH_PACED_RECORDS) {
      assert.equal(assignSplit(config, r, 1234), undefined);
      assert.equal(protocolIncludes('inter', r), false);
    }
    assert.equal(new Set([...DE_CHAZAL_DS1, ...DE_CHAZAL_DS2, ...MITBIH_PACED_RECORDS]).size, 48);
  });

  it('isTestBeat: the test split as the beat logs assign it (default seed), for scoring live beats', () => {
    const intra = defaultSplitConfig('intra');
    const samples = Array.from({ length: 2000 }, (_, i) => 500 + 361 * i);
    const test = samples.filter((r) => isTestBeat('intra', '208', r));
    assert.deepEqual(
      test,
      samples.filter((r) => assignSplit(intra, '208', r) === 'test'),
    );
    assert.ok(test.length > 300 && test.length < 500, `about a fifth: ${test.length}`);
    assert.equal(isTestBeat('inter', DE_CHAZAL_DS2[0], 1234), true);
    assert.equal(isTestBeat('inter', DE_CHAZAL_DS1[0], 1234), false, 'a DS1 beat is a training beat');
    assert.equal(isTestBeat('inter', MITBIH_PACED_RECORDS[0], 1234), false, 'outside the protocol');
  });
});
