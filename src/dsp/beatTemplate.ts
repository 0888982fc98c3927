/**
 * How a beat's shape compares with the patient's own dominant beat. Inter-patient classifiers fail on
 * morphology because every patient's normal beat looks different; what transfers is how far a beat is
 * from *this* patient's usual beat. A ventricular beat is wide and differently shaped, so it correlates
 * poorly with the template; a supraventricular beat keeps the usual shape (its tell is the RR interval).
 *
 * The template is a running average of the beats that already resemble it (correlation >= a threshold
 * once it has learnt from its first beats), so runs of ectopic beats do not pull it away. Causal: a beat is
 * compared with the template of the beats before it, then may update it. Comparison covers
 * `compareSeconds` of the beat from `leadSeconds` before its R-peak where the beat holds that much (a
 * centred beat: QRS onset, QRS, ST segment, T wave), else from the beat's start (the Kachuee form starts
 * at the R-peak: QRS end, ST segment, T wave).
 */

export interface BeatMorphology {
  /** Pearson correlation with the template over the compared span, in [-1, 1]; 1 for a segment's first beat. */
  templateCorrelation: number;
  /** RMS of (beat - template) over the compared span, relative to the template's RMS about its mean. */
  relativeRmsDifference: number;
}

export interface BeatTemplateConfig {
  compareSeconds: number;
  /** How much of the signal before the R-peak the comparison covers, when the beat holds it. */
  leadSeconds: number;
  /** Beats averaged unconditionally at the start (the template has to come from somewhere). */
  learningBeats: number;
  /** After that, only beats at least this correlated update the template. */
  updateMinCorrelation: number;
  /** Weight of a new beat in the running average. */
  updateWeight: number;
}

export const DEFAULT_BEAT_TEMPLATE_CONFIG: Readonly<BeatTemplateConfig> = Object.freeze({
  compareSeconds: 0.6,
  leadSeconds: 0.2,
  learningBeats: 8,
  updateMinCorrelation: 0.8,
  updateWeight: 1 / 16,
});

/**
 * One contiguous segment of one source: `next(samples)` for every beat, in order.
 *
 * @example
 * const t = new BeatTemplate(125);
 * t.next(beat.samples); // { templateCorrelation: 1, relativeRmsDifference: 0 } for the first beat
 */
export class BeatTemplate {
  readonly config: BeatTemplateConfig;
  private readonly length: number;
  private readonly leadSamples: number;
  private template: Float64Array | undefined;
  private learnt = 0;

  constructor(sampleRateHz: number, config: Partial<BeatTemplateConfig> = {}) {
    this.config = { ...DEFAULT_BEAT_TEMPLATE_CONFIG, ...config };
    if (!(sampleRateHz > 0)) throw new RangeError(`sample rate must be > 0, got ${sampleRateHz}`);
    this.length = Math.max(2, Math.round(this.config.compareSeconds * sampleRateHz));
    this.leadSamples = Math.max(0, Math.round(this.config.leadSeconds * sampleRateHz));
  }

  /** Compare a beat whose R-peak is at `samples[rPeakOffset]` (0: the beat starts at it). */
  next(beat: Float32Array | Float64Array | readonly number[], rPeakOffset = 0): BeatMorphology {
    const start = Math.max(0, rPeakOffset - this.leadSamples);
    const samples = beat.slice(start, start + this.length);
    const n = Math.min(this.length, samples.length);
    if (this.template === undefined) {
      this.template = new Float64Array(this.length);
      for (let i = 0; i < n; i++) this.template[i] = samples[i];
      this.learnt = 1;
      return { templateCorrelation: 1, relativeRmsDifference: 0 };
    }
    const t = this.template;
    let sb = 0;
    let st = 0;
    for (let i = 0; i < n; i++) {
      sb += samples[i];
      st += t[i];
    }
    const mb = sb / n;
    const mt = st / n;
    let cov = 0;
    let vb = 0;
    let vt = 0;
    let diff = 0;
    for (let i = 0; i < n; i++) {
      const b = samples[i] - mb;
      const c = t[i] - mt;
      cov += b * c;
      vb += b * b;
      vt += c * c;
      const d = samples[i] - t[i];
      diff += d * d;
    }
    // A flat beat or template has no shape to compare: call it uncorrelated rather than divide by zero.
    const correlation = vb > 0 && vt > 0 ? cov / Math.sqrt(vb * vt) : 0;
    const relativeRmsDifference = vt > 0 ? Math.sqrt(diff / vt) : 0;

    const learning = this.learnt < this.config.learningBeats;
    if (learning || correlation >= this.config.updateMinCorrelation) {
      const w = learning ? 1 / (this.learnt + 1) : this.config.updateWeight;
      for (let i = 0; i < n; i++) t[i] += w * (samples[i] - t[i]);
      this.learnt++;
    }
    return { templateCorrelation: correlation, relativeRmsDifference };
  }
}
