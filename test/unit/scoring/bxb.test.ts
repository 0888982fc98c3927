import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareBeats, pool, score } from '../../../src/scoring/bxb';

const isBeat = (s: string) => ['N', 'V', 'A'].includes(s);
const ref = (...marks: [number, string][]) => marks.map(([sampleIndex, symbol]) => ({ sampleIndex, symbol }));
const opts = { sampleRateHz: 100, startSeconds: 0, isBeat }; // 150 ms window = 15 samples

describe('beat-by-beat comparison (EC57 / bxb)', () => {
  it('matches within 150 ms; counts misses and extras', () => {
    const r = compareBeats(ref([100, 'N'], [200, 'N'], [300, 'V']), [110, 216, 300, 350], opts);
    assert.deepEqual([r.tp, r.fn, r.fp], [2, 1, 2]);
    assert.deepEqual(r.falseNegatives, [200]);
    assert.deepEqual(r.falsePositives, [216, 350]);
  });

  it('ignores non-beat annotations and does not score the learning period', () => {
    const annotations = ref([10, 'N'], [50, '+'], [40_000, 'N'], [40_100, '~']);
    const r = compareBeats(annotations, [12, 100, 40_003], { sampleRateHz: 100, isBeat }); // 5 min = 30,000
    assert.deepEqual([r.tp, r.fn, r.fp], [1, 0, 0]);
  });

  it('does not score ventricular flutter episodes', () => {
    const annotations = ref([100, 'N'], [150, '['], [160, '!'], [200, '!'], [400, ']'], [500, 'N']);
    const r = compareBeats(annotations, [100, 170, 210, 260, 500], opts);
    assert.deepEqual([r.tp, r.fn, r.fp], [2, 0, 0]);
  });

  it('pairs with the closer of two candidates (bxb rules incl. the 2002 amendment)', () => {
    // test 128 is 32 after ref 96 and 32 before ref 160; ref 160 has a better partner (185): pair 96/128.
    const r = compareBeats(ref([96, 'N'], [160, 'N']), [128, 185], { ...opts, matchWindowSeconds: 0.37 });
    assert.deepEqual([r.tp, r.fn, r.fp], [2, 0, 0]);
    // Two detections in one window: the closer one pairs, the other is extra.
    const two = compareBeats(ref([100, 'N']), [95, 101], opts);
    assert.deepEqual([two.tp, two.fn, two.fp], [1, 0, 1]);
  });

  it('pairs a detection just before the test period with the first reference beat', () => {
    const r = compareBeats(ref([30_005, 'N'], [30_100, 'N']), [29_998, 30_100], {
      sampleRateHz: 100,
      isBeat,
    });
    assert.deepEqual([r.tp, r.fn, r.fp], [2, 0, 0]);
  });

  it('pools gross statistics: Se, +P and DER in percent', () => {
    const s = score(
      pool([
        { tp: 90, fn: 10, fp: 0 },
        { tp: 10, fn: 0, fp: 10 },
      ]),
    );
    assert.equal(s.se, 100 * (100 / 110));
    assert.equal(s.ppv, 100 * (100 / 110));
    assert.equal(s.der, 100 * (20 / 110));
    assert.equal(score({ tp: 0, fn: 0, fp: 0 }).se, null);
  });
});
