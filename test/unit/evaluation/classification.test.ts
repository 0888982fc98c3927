import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  confusionBySource,
  confusionMatrix,
  scoreConfusion,
  sensitivityAndPredictivity,
  sourceTableRows,
} from '../../../src/evaluation/classification';

describe('classification scores', () => {
  const classes = ['N', 'S', 'V', 'F', 'Q'];
  // reference: 6 N, 2 S, 2 V; predictions: one S called N, one N called V.
  const reference = [0, 0, 0, 0, 0, 0, 1, 1, 2, 2];
  const predicted = [0, 0, 0, 0, 0, 2, 1, 0, 2, 2];
  const report = scoreConfusion(confusionMatrix(reference, predicted, 5), classes);

  it('builds the confusion matrix with references as rows', () => {
    assert.deepEqual(report.confusion[0], [5, 0, 1, 0, 0]);
    assert.deepEqual(report.confusion[1], [1, 1, 0, 0, 0]);
    assert.deepEqual(report.confusion[2], [0, 0, 2, 0, 0]);
  });

  it('computes accuracy, per-class precision/recall/F1 and macro-F1 over the classes present', () => {
    assert.equal(report.accuracy, 0.8);
    const n = report.perClass[0];
    assert.deepEqual([n.precision, n.recall], [5 / 6, 5 / 6]);
    const v = report.perClass[2];
    assert.deepEqual([v.precision, v.recall], [2 / 3, 1]);
    assert.equal(report.perClass[3].f1, null, 'F: no reference, no prediction');
    const f1 = (p: number, r: number) => (2 * p * r) / (p + r);
    const expected = (f1(5 / 6, 5 / 6) + f1(1, 0.5) + f1(2 / 3, 1)) / 3;
    assert.ok(Math.abs(report.macroF1 - expected) < 1e-12);
  });

  it('reports S and V sensitivity and positive predictivity', () => {
    assert.deepEqual(sensitivityAndPredictivity(report, 'S'), { se: 0.5, ppv: 1 });
    assert.deepEqual(sensitivityAndPredictivity(report, 'V'), { se: 1, ppv: 2 / 3 });
    assert.deepEqual(sensitivityAndPredictivity(report, 'Q'), { se: null, ppv: null });
  });
});

describe('scores per source', () => {
  const classes = ['N', 'S', 'V', 'F', 'Q'];
  // Source "b" (index 0) holds both errors: an N called V and a V called N; source "a" is perfect.
  const reference = [0, 0, 2, 0, 2, 1];
  const predicted = [0, 2, 0, 0, 2, 1];
  const sources = [0, 0, 0, 1, 1, 1];
  const bySource = confusionBySource(reference, predicted, sources, ['b', 'a'], 5);

  it('splits the confusion by source, sources in name order, and adds up to the pooled matrix', () => {
    assert.deepEqual(
      bySource.map((r) => [r.source, r.beats, r.accuracy]),
      [
        ['a', 3, 1],
        ['b', 3, 1 / 3],
      ],
    );
    const b = bySource[1].confusion;
    assert.equal(b[0][2], 1, 'N called V in b');
    assert.equal(b[2][0], 1, 'V called N in b');
    const pooled = confusionMatrix(reference, predicted, 5);
    const sum = bySource[0].confusion.map((row, r) => row.map((x, c) => x + bySource[1].confusion[r][c]));
    assert.deepEqual(sum, pooled);
  });

  it('refuses tags that do not line up with the predictions', () => {
    assert.throws(() => confusionBySource(reference, predicted, [0, 0], ['b', 'a'], 5), RangeError);
    assert.throws(() => confusionBySource([0], [0], [2], ['b', 'a'], 5), /source index 2/);
  });

  it('tabulates Se, +P and false calls of S and V per source', () => {
    const rows = sourceTableRows(bySource, classes);
    assert.deepEqual(rows[0], [
      'source',
      'beats',
      'accuracy %',
      'S beats',
      'S Se %',
      'S +P %',
      'false S',
      'V beats',
      'V Se %',
      'V +P %',
      'false V',
    ]);
    assert.deepEqual(rows[2], ['b', '3', '33.3', '0', '-', '-', '0', '1', '0.0', '0.0', '1']);
    assert.deepEqual(rows[1], ['a', '3', '100.0', '1', '100.0', '100.0', '0', '1', '100.0', '100.0', '0']);
  });
});
