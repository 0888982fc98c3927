import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { predictionListLines, writePredictionList } from '../../../src/evaluation/predictionList';
import { scratchDir } from '../../helpers/scratch';

const input = {
  sources: [0, 1, 1],
  sourceNames: ['233', 'bed "7", ward 3'],
  positions: [1200, -1, 5400],
  labels: [0, 2, 1],
  predictions: [2, 2, 0],
  classes: ['N', 'S', 'V'],
  probabilities: [0.2, 0.1, 0.7, 0.05, 0.05, 0.9, 0.5, 0.3, 0.2],
  features: [0.123456, -0.5, 0, 1, 2, 3],
  featureNames: ['preRr/longMean', '1 - template correlation'],
};

describe('per-beat prediction list', () => {
  it('one CSV line per beat after the header; names quoted when they need it; features rounded', () => {
    const lines = [...predictionListLines(input)];
    assert.deepEqual(lines, [
      'source,rPeakSampleIndex,reference,predicted,p(N),p(S),p(V),preRr/longMean,1 - template correlation',
      '233,1200,N,V,0.2,0.1,0.7,0.1235,-0.5',
      '"bed ""7"", ward 3",-1,V,V,0.05,0.05,0.9,0,1',
      '"bed ""7"", ward 3",5400,S,N,0.5,0.3,0.2,2,3',
    ]);
  });

  it('refuses arrays that do not line up', () => {
    assert.throws(() => [...predictionListLines({ ...input, positions: [1, 2] })], RangeError);
    assert.throws(() => [...predictionListLines({ ...input, features: [1] })], /expected 6 feature values/);
    assert.throws(
      () => [...predictionListLines({ ...input, probabilities: [1, 0, 0] })],
      /expected 9 probabilities/,
    );
  });

  it('writes the same lines to a file, in chunks', () => {
    const n = 2500;
    const big = {
      ...input,
      sources: new Int32Array(n),
      positions: Float64Array.from({ length: n }, (_, i) => i),
      labels: new Int32Array(n),
      predictions: new Int32Array(n),
      probabilities: Float32Array.from({ length: 3 * n }, (_, i) => (i % 3 === 0 ? 1 : 0)),
      features: new Float32Array(0),
      featureNames: [],
    };
    const file = path.join(scratchDir('ecgflow-predictions-'), 'p.csv');
    assert.equal(writePredictionList(file, big), n);
    const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(text.length, n + 1);
    assert.equal(text[2500], '233,2499,N,N,1,0,0');
  });
});
