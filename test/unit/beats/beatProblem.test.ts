import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beatProblem } from '../../../src/beats/beatProblem';

const beat = (samples: number[], extra: object = {}) => ({ samples, aamiClass: 'N', ...extra });
const ok = new Array<number>(187).fill(0.5);

describe('beats a model cannot take', () => {
  it('accepts a well-formed beat, with or without RR and template values', () => {
    assert.equal(beatProblem(beat(ok), 187), undefined);
    const rr = { preSeconds: null, postSeconds: 0.8, localMeanSeconds: 0.8, longMeanSeconds: 0.82 };
    const morphology = { templateCorrelation: 0.97, relativeRmsDifference: 0.1, qrsCorrelation: null };
    assert.equal(beatProblem(beat(ok, { rr, morphology }), 187), undefined);
  });

  it('names the wrong length, the first non-finite sample and a non-finite RR or template value', () => {
    assert.equal(beatProblem(beat(ok.slice(0, 100)), 187), 'beat has 100 samples, expected 187');
    const nan = [...ok];
    nan[42] = Number.NaN;
    nan[50] = Number.POSITIVE_INFINITY;
    assert.equal(beatProblem(beat(nan), 187), 'sample 42 is NaN');
    const rr = {
      preSeconds: Number.POSITIVE_INFINITY,
      postSeconds: 0.8,
      localMeanSeconds: 0.8,
      longMeanSeconds: 0.8,
    };
    assert.equal(beatProblem(beat(ok, { rr }), 187), 'rr.preSeconds is Infinity');
    const morphology = { templateCorrelation: Number.NaN, relativeRmsDifference: 0.1 };
    assert.equal(beatProblem(beat(ok, { morphology }), 187), 'morphology.templateCorrelation is NaN');
  });
});
