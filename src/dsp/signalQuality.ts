/**
 * Per-sample signal-quality flags for a raw (digital) sample stream, computed causally across chunks:
 * - non-finite: NaN or +/-Infinity;
 * - flat line: a run of identical values longer than `flatLineSamples` (the run's first
 *   `flatLineSamples` samples pass, the rest is flagged; a real ECG is never constant for that long);
 * - saturation: a run longer than `saturationSamples` at the converter's limits: at or beyond
 *   `adcRange` when it is known, otherwise identical values at the extreme (minimum or maximum) of
 *   everything the source has sent so far, which is what a clipped signal looks like (only once the
 *   source has shown `flatLineSamples` samples before the run, so that the extremes mean something).
 * No look-ahead: a sample's flag depends only on it and the samples before it.
 */

export const SAMPLE_OK = 0;
export const SAMPLE_NON_FINITE = 1;
export const SAMPLE_FLAT_LINE = 2;
export const SAMPLE_SATURATED = 3;

export interface SignalQualityConfig {
  flatLineSamples: number;
  saturationSamples: number;
  /** Inclusive ADC limits in digital units, when known. */
  adcRange?: readonly [number, number];
}

/** One source's quality tracker. */
export class SignalQualityTracker {
  private previous = Number.NaN;
  private runLength = 0;
  private saturatedRun = 0;
  private min = Infinity;
  private max = -Infinity;
  private seen = 0;

  constructor(readonly config: SignalQualityConfig) {}

  /** Flag each sample of `samples` (SAMPLE_* codes) into `flags` (same length). */
  classify(samples: ArrayLike<number>, flags: Uint8Array): void {
    const { flatLineSamples, saturationSamples, adcRange } = this.config;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i];
      if (!Number.isFinite(x)) {
        flags[i] = SAMPLE_NON_FINITE;
        this.previous = Number.NaN;
        this.runLength = 0;
        this.saturatedRun = 0;
        continue;
      }
      if (x === this.previous) this.runLength++;
      else this.runLength = 1;
      this.previous = x;
      this.seen++;
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
      const atLimit =
        adcRange !== undefined
          ? x <= adcRange[0] || x >= adcRange[1]
          : this.runLength > 1 &&
            this.seen - this.runLength >= flatLineSamples &&
            (x === this.min || x === this.max);
      this.saturatedRun = atLimit ? this.saturatedRun + 1 : 0;
      if (this.saturatedRun > saturationSamples) flags[i] = SAMPLE_SATURATED;
      else if (this.runLength > flatLineSamples) flags[i] = SAMPLE_FLAT_LINE;
      else flags[i] = SAMPLE_OK;
    }
  }
}
