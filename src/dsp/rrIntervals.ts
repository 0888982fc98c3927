/**
 * RR intervals around each beat: the rhythm context that morphology alone lacks. A premature
 * supraventricular beat often looks normal; what gives it away is that it came early (short pre-RR) and,
 * for many ectopic beats, the pause after it (long post-RR). De Chazal et al. 2004 and most inter-patient
 * classifiers since use pre-RR, post-RR, a local average and a long-term average; the ratios to the
 * long-term average are what carries over between patients whose heart rates differ.
 *
 * Everything is in seconds, so the features do not depend on the sampling rate. The tracker is causal
 * except for post-RR, which needs the next R-peak: the segmenter supplies it only from R-peaks it already
 * holds within its look-ahead (src/dsp/beatWindows.ts), so the values never depend on how the stream was
 * chunked. Intervals outside a physiological range (missed or extra detections) still appear as the
 * beat's own pre/post values, but do not enter the averages.
 */

export interface RrIntervals {
  /** From the previous R-peak of the same contiguous segment; null for a segment's first beat. */
  preSeconds: number | null;
  /** To the next R-peak, when it lies within the segmenter's look-ahead; null otherwise. */
  postSeconds: number | null;
  /** Mean of the last `localBeats` plausible pre-RR intervals, this beat's included. */
  localMeanSeconds: number;
  /** Long-term mean (exponential, about `longBeats` beats); the patient's usual rhythm. */
  longMeanSeconds: number;
}

export interface RrTrackerConfig {
  /** Beats in the local average (de Chazal: about 10). */
  localBeats: number;
  /** Effective length of the long-term average, in beats (about 5 minutes at 60 bpm). */
  longBeats: number;
  /** Plausible RR range (s); intervals outside it are left out of both averages. */
  minPlausibleSeconds: number;
  maxPlausibleSeconds: number;
  /** Both averages before any plausible interval was seen (s). */
  initialSeconds: number;
}

export const DEFAULT_RR_TRACKER_CONFIG: Readonly<RrTrackerConfig> = Object.freeze({
  localBeats: 10,
  longBeats: 300,
  minPlausibleSeconds: 0.2,
  maxPlausibleSeconds: 3,
  initialSeconds: 0.8,
});

/**
 * One contiguous segment of one source: feed R-peaks in order with `next`.
 *
 * @example
 * const rr = new RrTracker(125);
 * rr.next(100, 200); // { preSeconds: null, postSeconds: 0.8, ... }
 */
export class RrTracker {
  readonly config: RrTrackerConfig;
  private previous: number | undefined;
  private readonly recent: number[] = [];
  private recentSum = 0;
  private longMean: number | undefined;
  private plausibleSeen = 0;

  constructor(
    readonly sampleRateHz: number,
    config: Partial<RrTrackerConfig> = {},
  ) {
    this.config = { ...DEFAULT_RR_TRACKER_CONFIG, ...config };
    if (!(sampleRateHz > 0)) throw new RangeError(`sample rate must be > 0, got ${sampleRateHz}`);
    if (!(Number.isInteger(this.config.localBeats) && this.config.localBeats >= 1))
      throw new RangeError(`localBeats must be a positive integer, got ${this.config.localBeats}`);
    if (!(this.config.longBeats >= 1))
      throw new RangeError(`longBeats must be >= 1, got ${this.config.longBeats}`);
  }

  /**
   * The intervals of the beat at `rPeakIndex` (sample numbering of this tracker's rate), given the next
   * R-peak when known. R-peaks must come in increasing order; a repeated or earlier one is treated as the
   * start of a new run (no pre-RR) rather than producing a negative interval.
   */
  next(rPeakIndex: number, nextRPeakIndex: number | undefined): RrIntervals {
    const c = this.config;
    let pre: number | null = null;
    if (this.previous !== undefined && rPeakIndex > this.previous) {
      pre = (rPeakIndex - this.previous) / this.sampleRateHz;
      if (pre >= c.minPlausibleSeconds && pre <= c.maxPlausibleSeconds) this.observe(pre);
    }
    this.previous = rPeakIndex;
    const post =
      nextRPeakIndex !== undefined && nextRPeakIndex > rPeakIndex
        ? (nextRPeakIndex - rPeakIndex) / this.sampleRateHz
        : null;
    return {
      preSeconds: pre,
      postSeconds: post,
      localMeanSeconds: this.recent.length > 0 ? this.recentSum / this.recent.length : c.initialSeconds,
      longMeanSeconds: this.longMean ?? c.initialSeconds,
    };
  }

  private observe(rr: number): void {
    this.recent.push(rr);
    this.recentSum += rr;
    if (this.recent.length > this.config.localBeats) this.recentSum -= this.recent.shift() as number;
    // A plain running mean until `longBeats` intervals were seen, exponential after: early beats get a
    // well-defined average instead of one dominated by the initial guess.
    this.plausibleSeen++;
    const alpha = 1 / Math.min(this.plausibleSeen, this.config.longBeats);
    this.longMean = this.longMean === undefined ? rr : this.longMean + alpha * (rr - this.longMean);
  }
}
