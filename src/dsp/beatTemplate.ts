/**
 * How a beat's shape compares with the patient's own dominant beat. Inter-patient classifiers fail on
 * morphology because every patient's normal beat looks different; what transfers is how far a beat is
 * from *this* patient's usual beat. A ventricular beat is wide and differently shaped, so it correlates
 * poorly with the template; a supraventricular beat keeps the usual shape (its tell is the RR interval).
 *
 * The patient's beats are kept as a few shape clusters (`maxTemplates`), each a running average of the
 * beats that correlate with it at least `updateMinCorrelation`; a beat that matches none starts a new
 * cluster (replacing the least used one when all are taken). The dominant beat is the cluster with the
 * most members (counts decay with a half-life of `countHalfLifeBeats`, so a lasting change of shape, such
 * as a new electrode position, is followed) and another cluster takes over only once it has
 * `switchMargin` times as many. Why clusters rather than one template learnt from the first beats: when
 * ectopic beats are frequent (MIT-BIH 233: a quarter of its beats are ventricular), a single template can
 * be learnt from them and then lock out the normal beats forever, turning the feature upside down for the
 * whole recording; with clusters the majority shape wins within a few dozen beats, and a run of ectopic
 * beats (tachycardia) does not displace it.
 *
 * Causal: a beat is compared with the dominant template of the beats before it, then updates the
 * clusters. Comparison covers `compareSeconds` of the beat from `leadSeconds` before its R-peak where the
 * beat holds that much (a centred beat: QRS onset, QRS, ST segment, T wave), else from the beat's start
 * (the Kachuee form starts at the R-peak: QRS end, ST segment, T wave).
 *
 * The QRS complex is also compared on its own (`qrsSeconds` around the R-peak): over the whole span, a
 * noisy T wave or baseline lowers the correlation of an ordinary beat as much as a different QRS does,
 * while ventricular beats differ above all in the QRS. With it come the beat's QRS width and the dominant
 * template's (src/dsp/qrsWidth.ts), so that "wide" can be judged against the patient's own beat: a bundle
 * branch block makes every beat wide.
 *
 * The P wave is compared on its own too (`pWaveFromSeconds` to `pWaveToSeconds` before the R-peak, where
 * the beat holds that span): a ventricular beat has no P wave of its own before it, and some ventricular
 * beats look ordinary on one lead in everything but that (MIT-BIH 233's second ectopic form on MLII: an
 * ordinary-looking QRS, no P wave, a compensatory pause). The span is small beside the QRS and T wave, so
 * the whole-beat correlation barely registers a missing P wave. Premature atrial beats also differ there
 * (their P wave is early, often inside the previous T wave); the RR features tell the two apart.
 */
import { qrsWidthSeconds } from './qrsWidth';

export interface BeatMorphology {
  /** Pearson correlation with the template over the compared span, in [-1, 1]; 1 for a segment's first beat. */
  templateCorrelation: number;
  /** RMS of (beat - template) over the compared span, relative to the template's RMS about its mean. */
  relativeRmsDifference: number;
  /** Pearson correlation with the template over the QRS span only; 1 for a segment's first beat. */
  qrsCorrelation: number;
  /** The beat's QRS width proxy (s; src/dsp/qrsWidth.ts), null when its QRS span is flat. */
  qrsWidthSeconds: number | null;
  /** The same for the dominant template the beat was compared with (its own for a first beat). */
  templateQrsWidthSeconds: number | null;
  /**
   * Pearson correlation with the template over the P-wave span; 1 for a segment's first beat; null when
   * the beat does not hold the span (a beat that starts at its R-peak).
   */
  pWaveCorrelation: number | null;
  /**
   * RMS of (beat - template) over the P-wave span relative to the template's RMS about its mean over the
   * whole compared span (a missing P wave reads as the P wave's size against the beat's); null likewise.
   */
  pWaveRelativeRmsDifference: number | null;
}

export interface BeatTemplateConfig {
  compareSeconds: number;
  /** How much of the signal before the R-peak the comparison covers, when the beat holds it. */
  leadSeconds: number;
  /** The QRS span compared on its own: this long, centred on the R-peak (clipped to the compared span). */
  qrsSeconds: number;
  /** Start of the P-wave span, this long before the R-peak (PR interval plus half a QRS, at most). */
  pWaveFromSeconds: number;
  /** End of the P-wave span before the R-peak (after the P wave, before the QRS onset). */
  pWaveToSeconds: number;
  /** A cluster's first beats are averaged equally (weight 1/k); later ones with `updateWeight`. */
  learningBeats: number;
  /** A beat joins (and updates) the best-matching cluster when it correlates at least this much. */
  updateMinCorrelation: number;
  /** Weight of a new beat in a learnt cluster's running average. */
  updateWeight: number;
  /** Shape clusters kept per segment. */
  maxTemplates: number;
  /** Half-life of the membership counts, in beats. */
  countHalfLifeBeats: number;
  /** Another cluster becomes dominant once its count exceeds the dominant one's by this factor. */
  switchMargin: number;
}

export const DEFAULT_BEAT_TEMPLATE_CONFIG: Readonly<BeatTemplateConfig> = Object.freeze({
  compareSeconds: 0.6,
  leadSeconds: 0.2,
  qrsSeconds: 0.2,
  pWaveFromSeconds: 0.2,
  pWaveToSeconds: 0.06,
  learningBeats: 8,
  updateMinCorrelation: 0.8,
  updateWeight: 1 / 16,
  maxTemplates: 3,
  countHalfLifeBeats: 1000,
  switchMargin: 1.2,
});

interface Cluster {
  template: Float64Array;
  /** Span of the template that holds values (a short first beat leaves the rest unknown). */
  filled: number;
  learnt: number;
  count: number;
}

interface Comparison {
  templateCorrelation: number;
  /** RMS of (beat - template) and the template's RMS about its mean, both in the beat's units. */
  differenceRms: number;
  templateRms: number;
}

/** An RMS difference in units of a template's RMS; 0 against a flat template (nothing to scale by). */
const relativeTo = (differenceRms: number, templateRms: number): number =>
  templateRms > 0 ? differenceRms / templateRms : 0;

/**
 * Pearson correlation and relative RMS difference of `a` against template `t` over samples [from, to).
 */
function compare(a: ArrayLike<number>, t: ArrayLike<number>, to: number, from = 0): Comparison {
  const n = to - from;
  if (n < 2) return { templateCorrelation: 0, differenceRms: 0, templateRms: 0 };
  let sa = 0;
  let st = 0;
  for (let i = from; i < to; i++) {
    sa += a[i];
    st += t[i];
  }
  const ma = sa / n;
  const mt = st / n;
  let cov = 0;
  let va = 0;
  let vt = 0;
  let diff = 0;
  for (let i = from; i < to; i++) {
    const x = a[i] - ma;
    const y = t[i] - mt;
    cov += x * y;
    va += x * x;
    vt += y * y;
    const d = a[i] - t[i];
    diff += d * d;
  }
  // A flat beat or template has no shape to compare: call it uncorrelated rather than divide by zero.
  return {
    templateCorrelation: va > 0 && vt > 0 ? cov / Math.sqrt(va * vt) : 0,
    differenceRms: Math.sqrt(diff / n),
    templateRms: Math.sqrt(vt / n),
  };
}

/**
 * One contiguous segment of one source: `next(samples, rPeakOffset)` for every beat, in order.
 *
 * @example
 * const t = new BeatTemplate(125);
 * t.next(beat.samples); // { templateCorrelation: 1, relativeRmsDifference: 0 } for the first beat
 */
export class BeatTemplate {
  readonly config: BeatTemplateConfig;
  private readonly length: number;
  private readonly leadSamples: number;
  private readonly qrsHalfSamples: number;
  private readonly pWaveFromSamples: number;
  private readonly pWaveToSamples: number;
  private readonly sampleRateHz: number;
  private readonly decay: number;
  private clusters: Cluster[] = [];
  private dominantIndex = 0;

  constructor(sampleRateHz: number, config: Partial<BeatTemplateConfig> = {}) {
    this.config = { ...DEFAULT_BEAT_TEMPLATE_CONFIG, ...config };
    if (!(sampleRateHz > 0)) throw new RangeError(`sample rate must be > 0, got ${sampleRateHz}`);
    if (!(Number.isInteger(this.config.maxTemplates) && this.config.maxTemplates >= 1))
      throw new RangeError(`maxTemplates must be an integer >= 1, got ${this.config.maxTemplates}`);
    this.length = Math.max(2, Math.round(this.config.compareSeconds * sampleRateHz));
    this.leadSamples = Math.max(0, Math.round(this.config.leadSeconds * sampleRateHz));
    this.qrsHalfSamples = Math.max(1, Math.round((this.config.qrsSeconds * sampleRateHz) / 2));
    const { pWaveFromSeconds: pFrom, pWaveToSeconds: pTo } = this.config;
    // The P-wave span must lie inside the compared span, or no beat would ever hold it.
    if (!(pFrom > pTo && pTo >= 0 && pFrom <= this.config.leadSeconds))
      throw new RangeError(
        `the P-wave span needs leadSeconds >= pWaveFromSeconds > pWaveToSeconds >= 0, got ${this.config.leadSeconds}, ${pFrom}, ${pTo}`,
      );
    this.pWaveFromSamples = Math.round(pFrom * sampleRateHz);
    this.pWaveToSamples = Math.round(pTo * sampleRateHz);
    this.sampleRateHz = sampleRateHz;
    this.decay = Math.pow(0.5, 1 / this.config.countHalfLifeBeats);
  }

  /** Shape clusters currently held (for tests and diagnostics). */
  get templateCount(): number {
    return this.clusters.length;
  }

  /** Compare a beat whose R-peak is at `samples[rPeakOffset]` (0: the beat starts at it). */
  next(beat: Float32Array | Float64Array | readonly number[], rPeakOffset = 0): BeatMorphology {
    const start = Math.max(0, rPeakOffset - this.leadSamples);
    const samples = beat.slice(start, start + this.length);
    // The R-peak's place in `samples` and in every template (all are cut the same way).
    const r = rPeakOffset - start;
    const width = qrsWidthSeconds(beat, rPeakOffset, this.sampleRateHz);
    // Only a beat that holds the whole P-wave span is compared there: a part of it would be another span.
    const pFrom = r - this.pWaveFromSamples;
    const pTo = r - this.pWaveToSamples;
    const holdsPWave = pFrom >= 0 && pTo - pFrom >= 2 && pTo <= samples.length;
    if (this.clusters.length === 0) {
      this.clusters.push(this.newCluster(samples));
      this.dominantIndex = 0;
      return {
        templateCorrelation: 1,
        relativeRmsDifference: 0,
        qrsCorrelation: 1,
        qrsWidthSeconds: width,
        templateQrsWidthSeconds: width,
        pWaveCorrelation: holdsPWave ? 1 : null,
        pWaveRelativeRmsDifference: holdsPWave ? 0 : null,
      };
    }
    const dominant = this.clusters[this.dominantIndex];
    const n = Math.min(samples.length, dominant.filled);
    const whole = compare(samples, dominant.template, n);
    const qrs = compare(
      samples,
      dominant.template,
      Math.min(n, r + this.qrsHalfSamples + 1),
      Math.max(0, r - this.qrsHalfSamples),
    );
    const pWave = holdsPWave && pTo <= n ? compare(samples, dominant.template, pTo, pFrom) : null;
    const result: BeatMorphology = {
      templateCorrelation: whole.templateCorrelation,
      relativeRmsDifference: relativeTo(whole.differenceRms, whole.templateRms),
      qrsCorrelation: qrs.templateCorrelation,
      qrsWidthSeconds: width,
      templateQrsWidthSeconds: qrsWidthSeconds(dominant.template.subarray(0, n), r, this.sampleRateHz),
      pWaveCorrelation: pWave?.templateCorrelation ?? null,
      // Relative to the whole template, not to the P-wave span's own spread: a small P wave makes that
      // spread tiny and the ratio explode on noise.
      pWaveRelativeRmsDifference: pWave === null ? null : relativeTo(pWave.differenceRms, whole.templateRms),
    };
    this.learn(samples, whole);
    return result;
  }

  private newCluster(samples: ArrayLike<number>): Cluster {
    const template = new Float64Array(this.length);
    const filled = Math.min(this.length, samples.length);
    for (let i = 0; i < filled; i++) template[i] = samples[i];
    return { template, filled, learnt: 1, count: 1 };
  }

  private learn(samples: ArrayLike<number>, againstDominant: Comparison): void {
    let best = this.dominantIndex;
    let bestCorrelation = againstDominant.templateCorrelation;
    this.clusters.forEach((c, k) => {
      c.count *= this.decay;
      if (k === this.dominantIndex) return;
      const r = compare(samples, c.template, Math.min(samples.length, c.filled)).templateCorrelation;
      if (r > bestCorrelation) {
        bestCorrelation = r;
        best = k;
      }
    });
    const cfg = this.config;
    if (bestCorrelation >= cfg.updateMinCorrelation) {
      const c = this.clusters[best];
      const w = c.learnt < cfg.learningBeats ? 1 / (c.learnt + 1) : cfg.updateWeight;
      const n = Math.min(samples.length, c.filled);
      for (let i = 0; i < n; i++) c.template[i] += w * (samples[i] - c.template[i]);
      c.learnt++;
      c.count += 1;
    } else if (this.clusters.length < cfg.maxTemplates) {
      this.clusters.push(this.newCluster(samples));
    } else {
      // Replace the least used cluster other than the dominant one (a one-off noisy beat, usually).
      let weakest = -1;
      this.clusters.forEach((c, k) => {
        if (k !== this.dominantIndex && (weakest < 0 || c.count < this.clusters[weakest].count)) weakest = k;
      });
      if (weakest >= 0) this.clusters[weakest] = this.newCluster(samples);
    }
    const dominantCount = this.clusters[this.dominantIndex].count;
    let leader = this.dominantIndex;
    this.clusters.forEach((c, k) => {
      if (c.count > cfg.switchMargin * dominantCount && c.count > this.clusters[leader].count) leader = k;
    });
    this.dominantIndex = leader;
  }
}
