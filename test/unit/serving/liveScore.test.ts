import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiveScorer, matchPredictions, Quantiles } from '../../../src/serving/liveScore';

// 360 Hz, as MIT-BIH: the 150 ms window is 54 samples.
const FS = 360;
const ref = (sampleIndex: number, symbol = 'N') => ({ sampleIndex, symbol });
const pred = (rPeakSampleIndex: number, predictedClass = 'N') => ({ rPeakSampleIndex, predictedClass });

describe('live scoring against reference annotations', () => {
  it('pairs each reference beat with the nearest unused prediction within 150 ms, one to one', () => {
    const result = matchPredictions(
      [ref(1000), ref(1300), ref(2000)],
      // 1290 is nearer to 1300 than 1320; 1330 is left over; 2054 is exactly on the window's edge.
      [pred(1320), pred(1290), pred(1005), pred(1330), pred(2054)],
      FS,
    );
    assert.deepEqual(
      result.pairs.map((p) => [p.reference.sampleIndex, p.prediction.rPeakSampleIndex]),
      [
        [1000, 1005],
        [1300, 1290],
        [2000, 2054],
      ],
    );
    assert.equal(result.missed, 0);
    assert.equal(result.extra, 2);
    const outside = matchPredictions([ref(2000)], [pred(2055)], FS);
    assert.deepEqual([outside.pairs.length, outside.missed, outside.extra], [0, 1, 1]);
  });

  it('counts only beat annotations with an AAMI class as reference beats', () => {
    // "+" marks a rhythm change and "~" noise (not beats); "?" is a beat without an AAMI class.
    const result = matchPredictions(
      [ref(100, '+'), ref(400, 'V'), ref(700, '~'), ref(1000, 'Q'), ref(1300, '?')],
      [pred(101), pred(400), pred(1000)],
      FS,
    );
    assert.equal(result.referenceBeats, 2);
    assert.deepEqual(
      result.pairs.map((p) => p.reference.symbol),
      ['V', 'Q'],
    );
    assert.equal(result.extra, 1, 'the prediction at the rhythm mark is an extra detection');
  });

  it('scores classes over the beats it is told to, detection over all of them', () => {
    const reference = [ref(1000, 'N'), ref(1400, 'V'), ref(1800, 'A'), ref(2200, 'N'), ref(2600, 'N')];
    const predictions = [pred(1002, 'N'), pred(1401, 'N'), pred(1799, 'S'), pred(2200, 'V'), pred(3000)];
    const all = new LiveScorer();
    all.add(reference, predictions, FS);
    const a = all.score();
    assert.deepEqual([a.referenceBeats, a.predictedBeats, a.matched, a.missed, a.extra], [5, 5, 4, 1, 1]);
    assert.deepEqual([a.scored, a.correct, a.accuracy], [4, 2, 0.5]);
    assert.equal(a.detectionSe, 4 / 5);
    assert.equal(a.detectionPpv, 4 / 5);
    // confusion[reference][predicted]: the V beat called N, an N beat called V.
    const at = (r: string, p: string) => a.confusion[a.classes.indexOf(r)][a.classes.indexOf(p)];
    assert.deepEqual([at('N', 'N'), at('N', 'V'), at('V', 'N'), at('S', 'S')], [1, 1, 1, 1]);
    assert.deepEqual(
      [a.perClassRecall.N, a.perClassRecall.V, a.perClassRecall.S, a.perClassRecall.F],
      [0.5, 0, 1, null],
    );

    // Only beats at 1400 and 1800 are test beats: classes come from those two, detection is unchanged.
    const test = new LiveScorer();
    test.add(reference, predictions, FS, (sampleIndex) => sampleIndex === 1400 || sampleIndex === 1800);
    const t = test.score();
    assert.deepEqual([t.matched, t.missed, t.extra, t.detectionSe], [4, 1, 1, 4 / 5]);
    assert.deepEqual([t.scored, t.correct, t.accuracy], [2, 1, 0.5]);
    assert.equal(t.perClassRecall.N, null, 'no N test beat');
    assert.equal(
      t.confusion.flat().reduce((x, y) => x + y, 0),
      2,
    );

    const none = new LiveScorer();
    none.add(reference, predictions, FS, () => false);
    assert.deepEqual([none.score().scored, none.score().accuracy], [0, null]);
  });

  it('sums over sources', () => {
    const scorer = new LiveScorer();
    scorer.add([ref(100), ref(500)], [pred(100), pred(500, 'V')], FS);
    scorer.add([ref(100, 'V')], [pred(110, 'V')], 250);
    const s = scorer.score();
    assert.deepEqual([s.referenceBeats, s.matched, s.scored, s.correct], [3, 3, 3, 2]);
  });

  it('quantiles by nearest rank, growing past the initial capacity', () => {
    const q = new Quantiles();
    assert.equal(q.quantile(0.5), null);
    for (let i = 3000; i >= 1; i--) q.add(i);
    assert.equal(q.count, 3000);
    assert.equal(q.quantile(0.5), 1500);
    assert.equal(q.quantile(0.99), 2970);
    assert.equal(q.quantile(0), 1);
    assert.equal(q.quantile(1), 3000);
    q.add(0.5);
    assert.equal(q.quantile(0), 0.5, 'sorted again after an add');
    assert.equal(q.all().length, 3001);
  });
});
