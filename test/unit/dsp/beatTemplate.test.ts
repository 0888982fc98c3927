import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BeatTemplate } from '../../../src/dsp/beatTemplate';

/** A narrow "normal" beat shape and a wide, inverted "ventricular" one, 75 samples (0.6 s at 125 Hz). */
const normal = (scale = 1) =>
  Float64Array.from({ length: 100 }, (_, i) => 0.5 + scale * 0.4 * Math.exp(-(((i - 5) / 3) ** 2)));
const wide = () =>
  Float64Array.from({ length: 100 }, (_, i) => 0.5 - 0.3 * Math.exp(-(((i - 20) / 12) ** 2)));

describe('BeatTemplate', () => {
  it('the first beat is its own template; similar beats correlate, a different shape does not', () => {
    const t = new BeatTemplate(125);
    const first = t.next(normal());
    assert.equal(first.templateCorrelation, 1);
    assert.equal(first.relativeRmsDifference, 0);
    assert.equal(first.qrsCorrelation, 1);
    assert.equal(first.templateQrsWidthSeconds, first.qrsWidthSeconds);
    for (let k = 0; k < 10; k++) t.next(normal(0.9 + 0.02 * k));
    const same = t.next(normal(1.05));
    assert.ok(same.templateCorrelation > 0.99, `${same.templateCorrelation}`);
    assert.ok(same.relativeRmsDifference < 0.2, `${same.relativeRmsDifference}`);
    const v = t.next(wide());
    assert.ok(v.templateCorrelation < 0.3, `${v.templateCorrelation}`);
    assert.ok(v.relativeRmsDifference > 1, `${v.relativeRmsDifference}`);
  });

  it('a run of different beats (a tachycardia) does not displace the established dominant beat', () => {
    const t = new BeatTemplate(125);
    for (let k = 0; k < 100; k++) t.next(normal());
    for (let k = 0; k < 50; k++) assert.ok(t.next(wide()).templateCorrelation < 0.3, `wide beat ${k}`);
    assert.ok(t.next(normal()).templateCorrelation > 0.99);
  });

  it('learnt from ectopic beats first, it turns to the majority shape instead of locking it out', () => {
    // MIT-BIH 233-like: the segment opens with ventricular beats, then three normal beats for each one.
    const t = new BeatTemplate(125);
    for (let k = 0; k < 10; k++) t.next(wide());
    assert.ok(t.next(normal()).templateCorrelation < 0.3, 'at first, the wide beat is all it knows');
    for (let k = 0; k < 60; k++) {
      t.next(normal());
      t.next(normal());
      t.next(normal());
      t.next(wide());
    }
    assert.ok(t.next(normal()).templateCorrelation > 0.99, 'normal beats are now the dominant shape');
    assert.ok(t.next(wide()).templateCorrelation < 0.3, 'and the ventricular ones stand out');
    assert.ok(t.templateCount <= 3);
  });

  it('a one-off odd beat takes a spare cluster, never the dominant one', () => {
    const t = new BeatTemplate(125, { maxTemplates: 2 });
    for (let k = 0; k < 20; k++) t.next(normal());
    for (let k = 0; k < 5; k++) t.next(Float64Array.from({ length: 100 }, (_, i) => Math.sin(i * (0.3 + k))));
    assert.equal(t.templateCount, 2);
    assert.ok(t.next(normal()).templateCorrelation > 0.99);
  });

  it('a flat beat has no shape to compare: correlation 0, never NaN', () => {
    const t = new BeatTemplate(125);
    t.next(normal());
    const flat = t.next(new Float64Array(100).fill(0.5));
    assert.equal(flat.templateCorrelation, 0);
    assert.ok(Number.isFinite(flat.relativeRmsDifference));
  });

  it('compares the span around the R-peak of a centred beat, not its start', () => {
    // Centred beats (R-peak at 93 of 187): identical around the R-peak, unrelated 0.2 s and more before it
    // (the previous beat's T wave differs with the rhythm), so only a comparison anchored at the R-peak
    // calls them the same beat.
    const centred = (early: number) =>
      Float64Array.from({ length: 187 }, (_, i) =>
        i < 93 - 25
          ? 0.5 + 0.3 * Math.sin(early * i)
          : 0.5 + 0.4 * Math.exp(-(((i - 93) / 3) ** 2)) + 0.1 * Math.exp(-(((i - 130) / 10) ** 2)),
      );
    const anchored = new BeatTemplate(125);
    anchored.next(centred(0.1), 93);
    const same = anchored.next(centred(0.37), 93);
    assert.ok(same.templateCorrelation > 0.999, `${same.templateCorrelation}`);
    const fromStart = new BeatTemplate(125);
    fromStart.next(centred(0.1));
    assert.ok(fromStart.next(centred(0.37)).templateCorrelation < 0.9);
    // The comparison starts 0.2 s (25 samples) before the R-peak: a difference just before that is unseen,
    // one inside it is not.
    const dent = (at: number) => {
      const b = centred(0.1);
      b[at] += 0.5;
      return b;
    };
    const t = new BeatTemplate(125);
    t.next(centred(0.1), 93);
    assert.equal(t.next(dent(93 - 26), 93).templateCorrelation, 1);
    assert.ok(t.next(dent(93 - 25), 93).templateCorrelation < 1);
  });

  describe('the QRS complex on its own (centred beats, R-peak at sample 93 of 187)', () => {
    const R = 93;
    /** A QRS of Gaussian width `qrsSigma` samples, a T wave 0.3 s later, optional T-wave disturbance. */
    const centred = (qrsSigma: number, sign = 1, tDisturbance = 0) =>
      Float64Array.from(
        { length: 187 },
        (_, i) =>
          0.5 +
          sign * 0.4 * Math.exp(-(((i - R) / qrsSigma) ** 2)) +
          0.1 * Math.exp(-(((i - R - 38) / 8) ** 2)) +
          tDisturbance * Math.sin(i / 2) * Math.exp(-(((i - R - 38) / 10) ** 2)),
      );

    it('a disturbed T wave lowers the whole-span correlation but not the QRS correlation', () => {
      const t = new BeatTemplate(125);
      for (let k = 0; k < 20; k++) t.next(centred(2), R);
      const noisy = t.next(centred(2, 1, 0.3), R);
      assert.ok(noisy.templateCorrelation < 0.8, `whole span ${noisy.templateCorrelation}`);
      assert.ok((noisy.qrsCorrelation as number) > 0.99, `QRS ${noisy.qrsCorrelation}`);
      const v = t.next(centred(7, -1), R);
      assert.ok((v.qrsCorrelation as number) < 0, `an inverted wide QRS: ${v.qrsCorrelation}`);
    });

    it("reports the beat's QRS width and the dominant beat's, so a wide beat is wide relative to the patient", () => {
      const narrowPatient = new BeatTemplate(125);
      for (let k = 0; k < 20; k++) narrowPatient.next(centred(2), R);
      const v = narrowPatient.next(centred(7), R);
      const ratio = (v.qrsWidthSeconds as number) / (v.templateQrsWidthSeconds as number);
      assert.ok(ratio > 2, `a wide beat in a narrow patient: ratio ${ratio}`);
      // Bundle branch block: every beat is wide, so an ordinary beat's width matches the template's.
      const widePatient = new BeatTemplate(125);
      for (let k = 0; k < 20; k++) widePatient.next(centred(7), R);
      const ordinary = widePatient.next(centred(7), R);
      assert.ok((ordinary.qrsWidthSeconds as number) > 0.1, `${ordinary.qrsWidthSeconds}`);
      assert.equal(ordinary.qrsWidthSeconds, ordinary.templateQrsWidthSeconds);
    });
  });

  describe('the P wave on its own (centred beats, R-peak at sample 93 of 187)', () => {
    const R = 93;
    /** A P wave 18 samples (144 ms) before the R-peak unless `withP` is false, the QRS, a T wave. */
    const centred = (withP: boolean) =>
      Float64Array.from(
        { length: 187 },
        (_, i) =>
          0.5 +
          (withP ? 0.08 * Math.exp(-(((i - R + 18) / 3) ** 2)) : 0) +
          0.4 * Math.exp(-(((i - R) / 2) ** 2)) +
          0.1 * Math.exp(-(((i - R - 38) / 8) ** 2)),
      );

    it('a beat without its P wave correlates with the template as a whole, not over the P-wave span', () => {
      const t = new BeatTemplate(125);
      const first = t.next(centred(true), R);
      assert.equal(first.pWaveCorrelation, 1);
      assert.equal(first.pWaveRelativeRmsDifference, 0);
      for (let k = 0; k < 20; k++) t.next(centred(true), R);
      const same = t.next(centred(true), R);
      assert.ok((same.pWaveCorrelation as number) > 0.999, `${same.pWaveCorrelation}`);
      const noP = t.next(centred(false), R);
      assert.ok(noP.templateCorrelation > 0.95, `whole span ${noP.templateCorrelation}`);
      assert.ok((noP.qrsCorrelation as number) > 0.99, `QRS ${noP.qrsCorrelation}`);
      // What is left there is the QRS onset's foot: nothing like a P wave.
      assert.ok((noP.pWaveCorrelation as number) < 0.2, `P wave ${noP.pWaveCorrelation}`);
      // The missing P wave, in units of the whole template's RMS (this P wave is a fifth of the R wave).
      const rms = noP.pWaveRelativeRmsDifference as number;
      assert.ok(rms > 0.3 && rms < 1, `${rms}`);
      assert.ok((same.pWaveRelativeRmsDifference as number) < 0.01);
    });

    it('covers 0.2 s to 0.06 s before the R-peak (samples 68 to 85 at 125 Hz) and nothing else', () => {
      const dent = (at: number) => {
        const b = centred(true);
        b[at] += 0.05;
        return b;
      };
      const t = new BeatTemplate(125);
      t.next(centred(true), R);
      assert.equal(t.next(dent(R - 8), R).pWaveCorrelation, 1, 'the QRS onset is not the P wave');
      assert.ok((t.next(dent(R - 9), R).pWaveCorrelation as number) < 1);
      assert.ok((t.next(dent(R - 25), R).pWaveCorrelation as number) < 1);
    });

    it('is null for beats that do not hold the span: those that start at the R-peak', () => {
      const t = new BeatTemplate(125);
      assert.equal(t.next(normal()).pWaveCorrelation, null);
      const later = t.next(normal());
      assert.equal(later.pWaveCorrelation, null);
      assert.equal(later.pWaveRelativeRmsDifference, null);
    });

    it('refuses a P-wave span outside the compared span or the wrong way round', () => {
      assert.throws(() => new BeatTemplate(125, { pWaveFromSeconds: 0.3 }), /pWaveFromSeconds/);
      assert.throws(() => new BeatTemplate(125, { pWaveFromSeconds: 0.05, pWaveToSeconds: 0.1 }), /P-wave/);
    });
  });
});
