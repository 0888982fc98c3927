import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors';
import {
  BEAT_FEATURE_SETS,
  type BeatContext,
  beatFeatures,
  beatSchemaVersionNeeded,
  beatSchemaVersionOf,
  featureCountOf,
  featureNamesOf,
  featureSetForCount,
  LEGACY_RR_RATIO_MAX,
  needsPWaveSpan,
  P_WAVE_FEATURE_NAMES,
  QRS_FEATURE_NAMES,
  RR_FEATURE_NAMES,
  RR_RATIO_MAX,
  validateRrRatioMax,
} from '../../../src/trainer/beatFeatures';
import { classWeightsFor, PAPER_TRAINING_CONFIG, validateTrainingConfig } from '../../../src/trainer/config';

const near = (a: ArrayLike<number>, b: number[]) =>
  b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `feature ${i}: ${a[i]} != ${v}`));

describe('beat features', () => {
  it('rr: ratios to the patient averages, centred on a regular rhythm', () => {
    const regular = beatFeatures('rr', {
      rr: { preSeconds: 0.8, postSeconds: 0.8, localMeanSeconds: 0.8, longMeanSeconds: 0.8 },
      morphology: null,
    });
    near(regular, [0, 0, 0, 0, 0]);
    // A premature beat with a compensatory pause.
    const premature = beatFeatures('rr', {
      rr: { preSeconds: 0.5, postSeconds: 1.1, localMeanSeconds: 0.8, longMeanSeconds: 1.0 },
      morphology: null,
    });
    near(premature, [0.5 - 1, 1.1 - 1, 0.8 - 1, 0.5 / 0.8 - 1, 0.5 - 0.8]);
    assert.equal(premature.length, RR_FEATURE_NAMES.length);
  });

  it('falls back to an ordinary beat when intervals are unknown, and clips extremes', () => {
    near(beatFeatures('rr', { rr: null, morphology: null }), [0, 0, 0, 0, 0]);
    const firstOfSegment = beatFeatures('rr', {
      rr: { preSeconds: null, postSeconds: null, localMeanSeconds: 0.9, longMeanSeconds: 0.9 },
      morphology: null,
    });
    near(firstOfSegment, [0, 0, 0, 0, 0.9 - 0.8]);
    const pause = beatFeatures('rr', {
      rr: { preSeconds: 30, postSeconds: 0.8, localMeanSeconds: 1, longMeanSeconds: 1 },
      morphology: null,
    });
    near(pause, [RR_RATIO_MAX - 1, -0.2, 0, RR_RATIO_MAX - 1, 4 - 0.8]);
    const legacy = beatFeatures(
      'rr',
      { rr: { preSeconds: 30, postSeconds: 0.8, localMeanSeconds: 1, longMeanSeconds: 1 }, morphology: null },
      LEGACY_RR_RATIO_MAX,
    );
    assert.equal(legacy[0], 3, 'models from before the cap read ratios clipped at 4');
  });

  it('caps the RR ratios: a long pause after a premature beat reads like a compensatory pause', () => {
    // Record 232's pattern: an early atrial beat followed by a pause of 3 mean RRs. Past the cap the pause
    // adds nothing, so the head cannot extrapolate it into "ventricular".
    const at = (postSeconds: number) =>
      beatFeatures('rr', {
        rr: { preSeconds: 0.7, postSeconds, localMeanSeconds: 1, longMeanSeconds: 1 },
        morphology: null,
      });
    near(at(3), Array.from(at(RR_RATIO_MAX)));
    near(at(1.3), [0.7 - 1, 1.3 - 1, 0, 0.7 - 1, 0.7 - 0.8]);
    assert.ok(RR_RATIO_MAX > 1.3, 'an ordinary compensatory pause is not clipped');
  });

  it('refuses an RR ratio cap that would clip ordinary beats or exceed the general clip', () => {
    for (const bad of [1, 0.5, 5, Number.NaN])
      assert.throws(
        () => validateRrRatioMax(bad),
        (err: unknown) => err instanceof ConfigError && err.location.field === 'rrRatioMax',
      );
    validateRrRatioMax(RR_RATIO_MAX);
    validateRrRatioMax(LEGACY_RR_RATIO_MAX);
  });

  it('rr-morphology: the rr features, then 1 - correlation and the relative RMS difference', () => {
    const rr = { preSeconds: 0.8, postSeconds: 0.8, localMeanSeconds: 0.8, longMeanSeconds: 0.8 };
    const f = beatFeatures('rr-morphology', {
      rr,
      morphology: {
        templateCorrelation: 0.25,
        relativeRmsDifference: 1.5,
        qrsCorrelation: 0.5,
        qrsWidthSeconds: 0.16,
        templateQrsWidthSeconds: 0.08,
        pWaveCorrelation: 0.5,
        pWaveRelativeRmsDifference: 1,
      },
    });
    near(f, [0, 0, 0, 0, 0, 0.75, 1.5]);
    near(beatFeatures('rr-morphology', { rr, morphology: null }), [0, 0, 0, 0, 0, 0, 0]);
    assert.equal(featureCountOf('rr-morphology'), 7);
  });

  /** An ordinary rhythm and a beat that differs from the template everywhere. */
  const rr = { preSeconds: 0.8, postSeconds: 0.8, localMeanSeconds: 0.8, longMeanSeconds: 0.8 };
  const odd = {
    templateCorrelation: 0.25,
    relativeRmsDifference: 1.5,
    qrsCorrelation: 0.5,
    qrsWidthSeconds: 0.16,
    templateQrsWidthSeconds: 0.08,
    pWaveCorrelation: -0.25,
    pWaveRelativeRmsDifference: 1.5,
  };

  it('rr-morphology-qrs: then 1 - QRS correlation, width in 100 ms units and width relative to the template', () => {
    const morphology = odd;
    near(beatFeatures('rr-morphology-qrs', { rr, morphology }), [0, 0, 0, 0, 0, 0.75, 1.5, 0.5, 0.6, 1]);
    // Beats from v2 writers (no QRS fields) and flat QRS spans read as ordinary, not as extreme.
    const v2 = { templateCorrelation: 0.9, relativeRmsDifference: 0.1 } as typeof morphology;
    near(beatFeatures('rr-morphology-qrs', { rr, morphology: v2 }), [0, 0, 0, 0, 0, 0.1, 0.1, 0, 0, 0]);
    near(
      beatFeatures('rr-morphology-qrs', {
        rr,
        morphology: { ...morphology, qrsWidthSeconds: 1, templateQrsWidthSeconds: null },
      }).subarray(7),
      [0.5, 2, 0],
    );
    assert.equal(featureCountOf('rr-morphology-qrs'), 10);
    assert.deepEqual(featureNamesOf('rr-morphology-qrs').slice(7), [...QRS_FEATURE_NAMES]);
  });

  it('rr-morphology-qrs-p: then 1 - P-wave correlation and the P-wave relative RMS difference, clipped', () => {
    const morphology = odd;
    const all = [0, 0, 0, 0, 0, 0.75, 1.5, 0.5, 0.6, 1];
    near(beatFeatures('rr-morphology-qrs-p', { rr, morphology }), [...all, 1.25, 1.5]);
    // A noise burst or a missed detection gives a huge difference; the clip holds it.
    near(
      beatFeatures('rr-morphology-qrs-p', {
        rr,
        morphology: { ...morphology, pWaveCorrelation: -1, pWaveRelativeRmsDifference: 1e6 },
      }).subarray(10),
      [2, 2],
    );
    // A beat without the span and a v3 beat read as "a P wave like the template's".
    near(
      beatFeatures('rr-morphology-qrs-p', {
        rr,
        morphology: { ...morphology, pWaveCorrelation: null, pWaveRelativeRmsDifference: null },
      }),
      [...all, 0, 0],
    );
    assert.equal(featureCountOf('rr-morphology-qrs-p'), 12);
    assert.deepEqual(featureNamesOf('rr-morphology-qrs-p').slice(10), [...P_WAVE_FEATURE_NAMES]);
    assert.ok(needsPWaveSpan('rr-morphology-qrs-p'));
    assert.ok(BEAT_FEATURE_SETS.filter(needsPWaveSpan).length === 1);
  });

  it('rr-morphology-qrs-p is refused for beats that start at the R-peak, with a typed error', () => {
    const config = (form: 'kachuee' | 'centred') => ({
      ...PAPER_TRAINING_CONFIG,
      features: 'rr-morphology-qrs-p' as const,
      beats: { ...PAPER_TRAINING_CONFIG.beats, form },
    });
    assert.throws(
      () => validateTrainingConfig(config('kachuee')),
      (e: unknown) =>
        e instanceof ConfigError && e.location.field === 'features' && /centred/.test(e.message),
    );
    assert.equal(validateTrainingConfig(config('centred')).features, 'rr-morphology-qrs-p');
  });

  it('knows which beat schema version each set needs and which version a beat was written with', () => {
    const rr = { preSeconds: 0.8, postSeconds: 0.8, localMeanSeconds: 0.8, longMeanSeconds: 0.8 };
    const v2 = { templateCorrelation: 0.9, relativeRmsDifference: 0.1 } as BeatContext['morphology'];
    const v3 = {
      ...v2,
      qrsCorrelation: 0.95,
      qrsWidthSeconds: null,
      templateQrsWidthSeconds: null,
    } as BeatContext['morphology'];
    assert.equal(beatSchemaVersionOf({ rr: null, morphology: null }), 1);
    assert.equal(beatSchemaVersionOf({ rr, morphology: null }), 1);
    assert.equal(beatSchemaVersionOf({ rr, morphology: v2 }), 2);
    assert.equal(beatSchemaVersionOf({ rr, morphology: v3 }), 3, 'a flat QRS (null widths) is still v3');
    const v4 = { ...v3, pWaveCorrelation: 0.7, pWaveRelativeRmsDifference: 0.5 } as BeatContext['morphology'];
    assert.equal(beatSchemaVersionOf({ rr, morphology: v4 }), 4);
    assert.deepEqual(
      BEAT_FEATURE_SETS.map((set) => beatSchemaVersionNeeded(set)),
      [1, 2, 2, 3, 4],
    );
  });

  it('maps a model head size back to its feature set, with a typed error otherwise', () => {
    assert.equal(featureSetForCount(0), 'none');
    assert.equal(featureSetForCount(featureCountOf('rr')), 'rr');
    assert.equal(featureSetForCount(7), 'rr-morphology');
    assert.equal(featureSetForCount(10), 'rr-morphology-qrs');
    assert.equal(featureSetForCount(12), 'rr-morphology-qrs-p');
    assert.throws(() => featureSetForCount(3), ConfigError);
  });
});

describe('class weights', () => {
  it('sqrt and balanced inverse frequency, mean weight over the examples 1, capped', () => {
    const counts = [900, 100, 0];
    assert.equal(classWeightsFor('none', counts, 10), null);
    const b = classWeightsFor('balanced', counts, 100) as number[];
    // raw 1000/900 and 1000/100; mean over examples (900*1.111 + 100*10)/1000 = 2
    near(b, [1000 / 900 / 2, 10 / 2, 100]);
    const s = classWeightsFor('sqrt', counts, 100) as number[];
    const raw = [Math.sqrt(1000 / 900), Math.sqrt(10)];
    const mean = (900 * raw[0] + 100 * raw[1]) / 1000;
    near(s, [raw[0] / mean, raw[1] / mean, 100]);
    const capped = classWeightsFor('balanced', [990, 10], 3) as number[];
    assert.equal(capped[1], 3);
  });
});
