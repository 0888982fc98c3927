import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors';
import {
  applyPrematurityRule,
  PREMATURITY_RULE_DS1,
  prematurityInputs,
  validatePrematurityRule,
} from '../../../src/scoring/prematurityRule';
import { beatFeatures, featureNamesOf } from '../../../src/trainer/beatFeatures';
import { AAMI_CLASSES } from '../../../src/wfdb/labels';

const N = 0;
const S = 1;
const V = 2;
const names = featureNamesOf('rr-morphology');

/** The model's feature row of a beat with these RR intervals (s) and template correlation. */
function row(
  preSeconds: number | null,
  localMeanSeconds: number,
  templateCorrelation: number | null,
): Float32Array {
  return beatFeatures('rr-morphology', {
    rr: { preSeconds, postSeconds: localMeanSeconds, localMeanSeconds, longMeanSeconds: localMeanSeconds },
    morphology:
      templateCorrelation === null
        ? null
        : {
            templateCorrelation,
            relativeRmsDifference: 0.1,
            qrsCorrelation: null,
            qrsWidthSeconds: null,
            templateQrsWidthSeconds: null,
            pWaveCorrelation: null,
            pWaveRelativeRmsDifference: null,
          },
  });
}

function classify(predicted: number[], rows: Float32Array[]): { predicted: number[]; changed: number } {
  const p = Int32Array.from(predicted);
  const features = new Float32Array(rows.length * names.length);
  rows.forEach((r, i) => features.set(r, i * names.length));
  const changed = applyPrematurityRule(
    PREMATURITY_RULE_DS1,
    prematurityInputs(names, AAMI_CLASSES),
    p,
    features,
  );
  return { predicted: [...p], changed };
}

describe('prematurity rule', () => {
  it('calls S an N beat that is early and shaped like the template, and nothing else', () => {
    const early = row(0.6, 0.8, 0.95); // 0.75 of the local mean, normal shape
    const onTime = row(0.78, 0.8, 0.95);
    const earlyOddShape = row(0.6, 0.8, 0.5);
    const r = classify([N, N, N, V, S], [early, onTime, earlyOddShape, early, early]);
    assert.deepEqual(r.predicted, [S, N, N, V, S], 'only the network N beat that is early and normal');
    assert.equal(r.changed, 1);
  });

  it('applies strict bounds at 0.85 of the local mean and correlation 0.7', () => {
    assert.deepEqual(classify([N, N], [row(0.84, 1, 0.9), row(0.86, 1, 0.9)]).predicted, [S, N]);
    assert.deepEqual(classify([N, N], [row(0.6, 1, 0.71), row(0.6, 1, 0.69)]).predicted, [S, N]);
  });

  it('never calls a beat without a known RR interval premature; without a template it goes by RR alone', () => {
    assert.deepEqual(
      classify([N, N, N], [row(null, 0.8, 0.95), row(0.5, 0.8, null), row(0.78, 0.8, null)]).predicted,
      [N, S, N],
    );
  });

  it('refuses a model without the features it reads, naming them, and unusable bounds', () => {
    assert.throws(
      () => prematurityInputs(featureNamesOf('rr'), AAMI_CLASSES),
      (e: Error) =>
        e instanceof ConfigError &&
        /1 - template correlation/.test(e.message) &&
        /rr-morphology/.test(e.message),
    );
    assert.throws(() => prematurityInputs([], AAMI_CLASSES), /its features: none/);
    assert.throws(() => prematurityInputs(names, ['N', 'V']), /classes N and S/);
    for (const bad of [
      { rrRatioBelow: 1.2, templateCorrelationAbove: 0.7 },
      { rrRatioBelow: 0, templateCorrelationAbove: 0.7 },
      { rrRatioBelow: Number.NaN, templateCorrelationAbove: 0.7 },
      { rrRatioBelow: 0.85, templateCorrelationAbove: 1 },
    ])
      assert.throws(() => validatePrematurityRule(bad), ConfigError, JSON.stringify(bad));
  });

  it('refuses feature rows shorter than the predictions', () => {
    assert.throws(
      () =>
        applyPrematurityRule(
          PREMATURITY_RULE_DS1,
          prematurityInputs(names, AAMI_CLASSES),
          new Int32Array(3),
          new Float32Array(names.length * 2),
        ),
      RangeError,
    );
  });
});
