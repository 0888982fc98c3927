/**
 * A causal, streaming QRS detector for one ECG lead at any sampling rate, in the family of Pan & Tompkins
 * (1985) and Hamilton & Tompkins (1986): a linear-phase band-pass and slope feature, adaptive thresholds
 * learned from recent QRS and noise peaks, a refractory period, T-wave discrimination by slope,
 * baseline-shift rejection, and search-back for missed beats. Every duration is given in seconds and
 * converted at construction, so the same configuration works at 125, 250, 360 or 500 Hz.
 *
 * Feature chain (all FIR, linear phase, running sums, O(1) per sample):
 *   x -> low-pass (two moving averages of `lowpassSeconds`) -> high-pass (subtract a centred moving
 *   average of `highpassSeconds`) = band-passed signal b -> slope d[n] = b[n] - b[n - derivativeSeconds]
 *   -> |d| -> moving average of `integrationSeconds` = feature m.
 * Peaks of m are candidates; a candidate is held for `blankingSeconds` in case a larger one follows
 * (one QRS, one candidate), then classified. A detection's position (the fiducial point) is the largest
 * |b| near the candidate, mapped back to input time with the chain's exact group delay.
 *
 * Look-ahead is bounded: every detection is reported at most `maxLatencySamples` samples after its
 * fiducial point (the learning period and search-back dominate; see `maxLatencySeconds`).
 */
import { DelayLine, MovingSum, nextPowerOfTwo, oddLength } from './movingSum';

export interface QrsDetectorConfig {
  /** Length of each of the two cascaded moving averages of the low-pass (s); first zero at 1/length Hz. */
  lowpassSeconds: number;
  /** Length of the moving average subtracted for the high-pass (s). */
  highpassSeconds: number;
  /** Span of the slope (first difference) (s). */
  derivativeSeconds: number;
  /** Moving-window integration of |slope| (s). */
  integrationSeconds: number;
  /** A feature peak is complete when the feature falls below half of it, or after this long (s). */
  peakSettleSeconds: number;
  /** A candidate is held this long; a larger candidate within it replaces it (s). */
  blankingSeconds: number;
  /** No two QRS complexes closer than this (s). */
  refractorySeconds: number;
  /** Candidates this close after a QRS are T waves unless their slope is at least `tWaveSlopeRatio` of it (s). */
  tWaveSeconds: number;
  tWaveSlopeRatio: number;
  /** Detection threshold = noise level + thresholdFraction * (QRS level - noise level). */
  thresholdFraction: number;
  /** QRS and noise levels are the medians of this many recent peaks; RR is the median of this many intervals. */
  historyLength: number;
  /** Search back when no QRS was found for searchBackFactor * median RR ... */
  searchBackFactor: number;
  /** ... accepting the largest candidate above searchBackFraction * threshold. */
  searchBackFraction: number;
  /** Upper bound on the search-back interval (s), which bounds the look-ahead. */
  maxSearchBackSeconds: number;
  /** Initial learning period (s): thresholds are estimated from it, then it is detected retrospectively. */
  learningSeconds: number;
  /** Without any QRS for this long, thresholds are learnt afresh (s). */
  relearnSeconds: number;
  /** Window over which the baseline-shift check looks for a positive and a negative slope (s). */
  shapeWindowSeconds: number;
  /** ... which must lie within this interval of each other (s) ... */
  shapeMaxSlopeDistanceSeconds: number;
  /** ... and neither may be smaller than this fraction of the other. */
  shapeMinSlopeRatio: number;
  /** Half-width of the window, around the feature peak, searched for the fiducial point (s). */
  fiducialSearchSeconds: number;
  /**
   * Feature peaks below this are never QRS complexes (input in mV: the feature is roughly the mean
   * absolute change of the band-passed signal per 10 ms, in mV); they still count as noise. Keeps a flat
   * or drifting input from producing detections.
   */
  minFeaturePeak: number;
}

export const DEFAULT_QRS_DETECTOR_CONFIG: Readonly<QrsDetectorConfig> = Object.freeze({
  lowpassSeconds: 0.025,
  highpassSeconds: 0.125,
  derivativeSeconds: 0.01,
  integrationSeconds: 0.08,
  peakSettleSeconds: 0.095,
  blankingSeconds: 0.195,
  refractorySeconds: 0.23,
  tWaveSeconds: 0.36,
  tWaveSlopeRatio: 0.5,
  thresholdFraction: 0.475,
  historyLength: 8,
  searchBackFactor: 1.5,
  searchBackFraction: 0.5,
  maxSearchBackSeconds: 3,
  learningSeconds: 4,
  relearnSeconds: 8,
  shapeWindowSeconds: 0.22,
  shapeMaxSlopeDistanceSeconds: 0.15,
  shapeMinSlopeRatio: 0.125,
  fiducialSearchSeconds: 0.09,
  minFeaturePeak: 0.005,
});

/** One detected QRS complex. */
export interface QrsDetection {
  /** Fiducial point (largest band-passed deflection), in input samples from the detector's first sample. */
  sampleIndex: number;
  /** Height of the feature peak (mV/s-like units; only its ratio to other peaks matters). */
  featurePeak: number;
  /** True when the beat was found by search-back rather than over the threshold. */
  searchBack: boolean;
}

interface Candidate {
  /** Index of the feature peak, in feature samples (= input samples, the feature is delayed). */
  featureIndex: number;
  value: number;
  /** Largest |slope| around the peak (for T-wave discrimination). */
  maxSlope: number;
  /** Has both a positive and a negative slope close together (QRS-like, not a baseline shift). */
  qrsShape: boolean;
  /** Fiducial point in input samples. */
  fiducial: number;
}

/** Median of the first `n` values of `values` (copied; `values` is not reordered). */
function median(values: Float64Array, n: number, scratch: Float64Array): number {
  for (let i = 0; i < n; i++) scratch[i] = values[i];
  const s = scratch.subarray(0, n).sort();
  return n % 2 === 1 ? s[(n - 1) >> 1] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/** A fixed-size history of recent values, with its median (cached between changes). */
class History {
  private readonly values: Float64Array;
  private readonly scratch: Float64Array;
  private next = 0;
  private count = 0;
  private cached: number | undefined;

  constructor(readonly size: number) {
    this.values = new Float64Array(size);
    this.scratch = new Float64Array(size);
  }

  fill(value: number): void {
    this.values.fill(value);
    this.count = this.size;
    this.next = 0;
    this.cached = undefined;
  }

  push(value: number): void {
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.size;
    if (this.count < this.size) this.count++;
    this.cached = undefined;
  }

  /** Overwrite the most recently pushed value. */
  replaceLast(value: number): void {
    if (this.count > 0) this.values[(this.next + this.size - 1) % this.size] = value;
    this.cached = undefined;
  }

  median(): number {
    if (this.cached === undefined)
      this.cached = this.count === 0 ? 0 : median(this.values, this.count, this.scratch);
    return this.cached;
  }
}

interface PendingBeat {
  candidate: Candidate;
  searchBack: boolean;
  /** Fiducial of the QRS before it (to redo the RR interval if it is superseded). */
  previousFiducial: number;
  rrPushed: boolean;
}

/**
 * Streaming QRS detector. Feed samples with `push` (any chunking gives identical results); detections
 * are appended to the array passed in, in increasing `sampleIndex` order. `finish` reports what can
 * still be decided at the end of the input (held candidates, the learning period of a short input).
 *
 * @example
 * const detector = new QrsDetector(360);
 * const found: QrsDetection[] = [];
 * detector.push(samplesInMillivolts, found);
 * detector.finish(found);
 */
export class QrsDetector {
  readonly config: QrsDetectorConfig;
  /** Group delay of the feature m relative to the input, in samples. */
  readonly featureDelay: number;
  /** Group delay of the band-passed signal b relative to the input, in samples (an integer). */
  readonly bandpassDelay: number;
  /** Upper bound on (time a detection is reported) - (its sampleIndex), in samples. */
  readonly maxLatencySamples: number;

  // Filter chain.
  private readonly lp1: MovingSum;
  private readonly lp2: MovingSum;
  private readonly lpLength: number;
  private readonly hpSum: MovingSum;
  private readonly hpDelay: DelayLine;
  private readonly hpLength: number;
  private readonly derivDelay: DelayLine;
  private readonly mwi: MovingSum;
  private readonly mwiLength: number;
  private readonly derivativeSpan: number;

  // History rings (bandpassed signal and slope), indexed by input sample number.
  private readonly ringMask: number;
  private readonly bandpassRing: Float64Array;
  private readonly slopeRing: Float64Array;

  // Durations in samples.
  private readonly settle: number;
  private readonly blanking: number;
  private readonly refractory: number;
  private readonly tWave: number;
  private readonly maxSearchBack: number;
  private readonly learning: number;
  private readonly relearn: number;
  private readonly shapeWindow: number;
  private readonly shapeMaxDistance: number;
  private readonly fiducialHalfWidth: number;

  /** Number of input samples seen. */
  private n = 0;
  private primed = false;

  // Feature peak tracking.
  private lastFeature = 0;
  private peakValue = 0;
  private peakIndex = -1;

  // Held candidate (blanking) and the sample at which its hold started.
  private held: Candidate | undefined;
  private heldSince = 0;

  // Learning.
  private learningActive = true;
  private learningUntil: number;
  private learningCandidates: Candidate[] = [];

  // Adaptive levels.
  private readonly qrsLevels: History;
  private readonly noiseLevels: History;
  private readonly rrIntervals: History;
  private threshold = 0;
  private lastQrsFiducial = Number.NEGATIVE_INFINITY;
  private lastQrsSlope = 0;
  /** Feature index of the last QRS (or of the start of learning). */
  private lastQrsFeature = 0;
  private searchBackCandidate: Candidate | undefined;
  /** The last accepted beat, reported only once nothing can supersede it any more. */
  private pending: PendingBeat | undefined;
  private readonly confirmAfter: number;
  private lastReported = Number.NEGATIVE_INFINITY;

  constructor(
    readonly sampleRateHz: number,
    config: Partial<QrsDetectorConfig> = {},
  ) {
    if (!(sampleRateHz > 0) || !Number.isFinite(sampleRateHz))
      throw new RangeError(`sampleRateHz must be a positive number, got ${sampleRateHz}`);
    const c = { ...DEFAULT_QRS_DETECTOR_CONFIG, ...config };
    this.config = c;
    const fs = sampleRateHz;
    const samples = (s: number) => Math.max(1, Math.round(s * fs));
    this.lpLength = samples(c.lowpassSeconds);
    this.lp1 = new MovingSum(this.lpLength);
    this.lp2 = new MovingSum(this.lpLength);
    this.hpLength = oddLength(c.highpassSeconds, fs, 3);
    this.hpSum = new MovingSum(this.hpLength);
    this.hpDelay = new DelayLine((this.hpLength - 1) / 2);
    this.derivativeSpan = samples(c.derivativeSeconds);
    this.derivDelay = new DelayLine(this.derivativeSpan);
    this.mwiLength = samples(c.integrationSeconds);
    this.mwi = new MovingSum(this.mwiLength);

    // b is delayed by the low-pass ((L-1)/2 twice) and the high-pass ((H-1)/2); L may be even, so round.
    this.bandpassDelay = Math.round(this.lpLength - 1 + (this.hpLength - 1) / 2);
    this.featureDelay =
      this.lpLength - 1 + (this.hpLength - 1) / 2 + this.derivativeSpan / 2 + (this.mwiLength - 1) / 2;

    this.settle = samples(c.peakSettleSeconds);
    this.blanking = samples(c.blankingSeconds);
    this.refractory = samples(c.refractorySeconds);
    this.tWave = samples(c.tWaveSeconds);
    this.maxSearchBack = samples(c.maxSearchBackSeconds);
    this.learning = samples(c.learningSeconds);
    this.relearn = samples(c.relearnSeconds);
    this.shapeWindow = samples(c.shapeWindowSeconds);
    this.shapeMaxDistance = samples(c.shapeMaxSlopeDistanceSeconds);
    this.fiducialHalfWidth = samples(c.fiducialSearchSeconds);
    // A candidate within the T-wave interval after a beat is classified at most this long after its
    // fiducial point; until then the beat may still be superseded.
    this.confirmAfter = Math.ceil(this.featureDelay) + this.tWave + this.settle + this.blanking + 1;

    const latency =
      Math.ceil(this.featureDelay) +
      this.settle +
      this.blanking +
      Math.max(this.learning, this.maxSearchBack, this.tWave) +
      this.fiducialHalfWidth;
    this.maxLatencySamples = latency + 1;
    const ringLength = nextPowerOfTwo(
      latency + this.shapeWindow + this.fiducialHalfWidth + this.bandpassDelay + 16,
    );
    this.ringMask = ringLength - 1;
    this.bandpassRing = new Float64Array(ringLength);
    this.slopeRing = new Float64Array(ringLength);

    this.qrsLevels = new History(c.historyLength);
    this.noiseLevels = new History(c.historyLength);
    this.rrIntervals = new History(c.historyLength);
    this.learningUntil = this.learning;
  }

  /** The bound on look-ahead, in seconds. */
  get maxLatencySeconds(): number {
    return this.maxLatencySamples / this.sampleRateHz;
  }

  /** Process samples (physical units, e.g. mV); detections found are appended to `out`. */
  push(samples: ArrayLike<number>, out: QrsDetection[]): void {
    const mask = this.ringMask;
    const lpNorm = 1 / (this.lpLength * this.lpLength);
    const hpNorm = 1 / this.hpLength;
    const mwiNorm = 1 / this.mwiLength;
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i];
      if (!this.primed) {
        // Start the filters as if the first value had been there forever: no start-up transient.
        this.primed = true;
        this.lp1.reset(x);
        this.lp2.reset(x * this.lpLength);
        this.hpSum.reset(x);
        this.hpDelay.reset(x);
      }
      const low = this.lp2.push(this.lp1.push(x)) * lpNorm;
      const band = this.hpDelay.push(low) - this.hpSum.push(low) * hpNorm;
      const slope = band - this.derivDelay.push(band);
      const feature = this.mwi.push(slope < 0 ? -slope : slope) * mwiNorm;
      const n = this.n;
      // Rings are indexed by the sample number of the newest input; readers subtract the delays.
      this.bandpassRing[n & mask] = band;
      this.slopeRing[n & mask] = slope;
      this.n = n + 1;
      this.onFeature(feature, n, out);
    }
  }

  /** End of input: decide what is pending (a held candidate, an unfinished learning period). */
  finish(out: QrsDetection[]): void {
    if (this.peakIndex >= 0) this.onPeak(this.peakIndex, this.peakValue, out);
    this.peakIndex = -1;
    this.peakValue = 0;
    if (this.held !== undefined) {
      const held = this.held;
      this.held = undefined;
      this.onCandidate(held, out);
    }
    if (this.learningActive) this.endLearning(out);
    this.confirm(out);
  }

  private onFeature(m: number, n: number, out: QrsDetection[]): void {
    if (this.pending !== undefined && n - this.pending.candidate.fiducial >= this.confirmAfter)
      this.confirm(out);
    // Peak picking on the feature: a local maximum completes when the feature halves or settles.
    if (m > this.lastFeature && m > this.peakValue) {
      this.peakValue = m;
      this.peakIndex = n;
    } else if (this.peakIndex >= 0 && (m < this.peakValue * 0.5 || n - this.peakIndex > this.settle)) {
      this.onPeak(this.peakIndex, this.peakValue, out);
      this.peakValue = 0;
      this.peakIndex = -1;
    }
    this.lastFeature = m;

    if (this.held !== undefined && n - this.heldSince >= this.blanking) {
      const held = this.held;
      this.held = undefined;
      this.onCandidate(held, out);
    }

    if (this.learningActive) {
      if (n + 1 >= this.learningUntil) this.endLearning(out);
      return;
    }

    // Search-back: nothing detected for too long; take the best candidate seen since the last QRS.
    const sinceQrs = n - this.lastQrsFeature;
    const interval = Math.min(this.maxSearchBack, this.config.searchBackFactor * this.rrIntervals.median());
    if (sinceQrs > interval && this.searchBackCandidate !== undefined) {
      const candidate = this.searchBackCandidate;
      this.searchBackCandidate = undefined;
      if (
        candidate.value > this.config.searchBackFraction * this.threshold &&
        candidate.value >= this.config.minFeaturePeak &&
        candidate.qrsShape
      ) {
        this.accept(candidate, true, out);
      }
    }
    if (n - this.lastQrsFeature > this.relearn) this.startLearning(n + 1);
  }

  /** A completed feature peak: compute its shape features now, while its slopes are in the ring. */
  private onPeak(featureIndex: number, value: number, out: QrsDetection[]): void {
    const candidate = this.describe(featureIndex, value);
    // The larger of two peaks within the blanking interval is the QRS; the smaller is dropped. The hold
    // restarts with every larger peak, so one QRS complex yields one candidate.
    if (this.held === undefined || candidate.value > this.held.value) {
      this.held = candidate;
      this.heldSince = this.n - 1;
    }
    void out;
  }

  private describe(featureIndex: number, value: number): Candidate {
    const mask = this.ringMask;
    // The slope ring holds d at input numbering with delay D_lp + D_hp + span/2 relative to the input;
    // the feature peak at featureIndex integrates slopes over the preceding integration window.
    const slopeCentre = Math.round(featureIndex - (this.mwiLength - 1) / 2);
    const from = slopeCentre - this.shapeWindow + Math.floor(this.shapeWindow / 2);
    const to = Math.min(this.n - 1, from + this.shapeWindow);
    let max = 0;
    let maxAt = from;
    let min = 0;
    let minAt = from;
    for (let k = Math.max(from, this.n - mask); k <= to; k++) {
      const s = this.slopeRing[k & mask];
      if (s > max) {
        max = s;
        maxAt = k;
      } else if (s < min) {
        min = s;
        minAt = k;
      }
    }
    const negative = -min;
    const ratio = this.config.shapeMinSlopeRatio;
    const qrsShape =
      max > negative * ratio && negative > max * ratio && Math.abs(maxAt - minAt) <= this.shapeMaxDistance;

    // Fiducial: largest |b| around the centre of the slope activity, mapped back to input time.
    const bandCentre = Math.round(slopeCentre - this.derivativeSpan / 2);
    let best = -1;
    let bestAt = bandCentre;
    const lo = Math.max(bandCentre - this.fiducialHalfWidth, this.n - mask, 0);
    const hi = Math.min(bandCentre + this.fiducialHalfWidth, this.n - 1);
    for (let k = lo; k <= hi; k++) {
      const b = this.bandpassRing[k & mask];
      const a = b < 0 ? -b : b;
      if (a > best) {
        best = a;
        bestAt = k;
      }
    }
    return {
      featureIndex,
      value,
      maxSlope: Math.max(max, negative),
      qrsShape,
      fiducial: bestAt - this.bandpassDelay,
    };
  }

  private onCandidate(candidate: Candidate, out: QrsDetection[]): void {
    if (this.learningActive) {
      this.learningCandidates.push(candidate);
      return;
    }
    this.classify(candidate, out);
  }

  private classify(candidate: Candidate, out: QrsDetection[]): void {
    const sinceQrs = candidate.fiducial - this.lastQrsFiducial;
    const ratio = this.config.tWaveSlopeRatio;
    const aboveThreshold =
      candidate.value > this.threshold && candidate.value >= this.config.minFeaturePeak && candidate.qrsShape;
    const pending = this.pending;
    if (aboveThreshold && pending !== undefined && sinceQrs < this.tWave) {
      // Two complexes within the T-wave interval. Within the refractory period only one can be a QRS: the
      // larger. After it, a much steeper second one means the first was a P wave or noise; a much flatter
      // second one is a T wave; otherwise both are beats.
      const refractory = sinceQrs < this.refractory;
      if (
        (refractory && candidate.value > pending.candidate.value) ||
        pending.candidate.maxSlope < ratio * candidate.maxSlope
      ) {
        this.supersede(candidate);
        return;
      }
    }
    let isQrs = aboveThreshold && sinceQrs >= this.refractory;
    if (isQrs && sinceQrs < this.tWave && candidate.maxSlope < ratio * this.lastQrsSlope) {
      isQrs = false; // a T wave: close after the QRS and much less steep
    }
    if (isQrs) {
      this.accept(candidate, false, out);
      return;
    }
    this.noiseLevels.push(candidate.value);
    this.updateThreshold();
    if (
      sinceQrs >= this.tWave &&
      (this.searchBackCandidate === undefined || candidate.value > this.searchBackCandidate.value)
    ) {
      this.searchBackCandidate = candidate;
    }
  }

  /** A new QRS: it becomes the pending beat (the previous pending beat is confirmed and reported). */
  private accept(candidate: Candidate, searchBack: boolean, out: QrsDetection[]): void {
    this.confirm(out);
    const rrPushed = Number.isFinite(this.lastQrsFiducial);
    if (rrPushed) this.rrIntervals.push(candidate.fiducial - this.lastQrsFiducial);
    this.qrsLevels.push(candidate.value);
    this.updateThreshold();
    this.pending = { candidate, searchBack, previousFiducial: this.lastQrsFiducial, rrPushed };
    this.lastQrsFiducial = candidate.fiducial;
    this.lastQrsFeature = candidate.featureIndex;
    this.lastQrsSlope = candidate.maxSlope;
    this.searchBackCandidate = undefined;
  }

  /** The pending beat was not a QRS after all (a P wave or noise before `candidate`): replace it. */
  private supersede(candidate: Candidate): void {
    const pending = this.pending as PendingBeat;
    this.noiseLevels.push(pending.candidate.value);
    this.qrsLevels.replaceLast(candidate.value);
    if (pending.rrPushed) this.rrIntervals.replaceLast(candidate.fiducial - pending.previousFiducial);
    this.updateThreshold();
    this.pending = { ...pending, candidate, searchBack: false };
    this.lastQrsFiducial = candidate.fiducial;
    this.lastQrsFeature = candidate.featureIndex;
    this.lastQrsSlope = candidate.maxSlope;
    this.searchBackCandidate = undefined;
  }

  /** Report the pending beat. */
  private confirm(out: QrsDetection[]): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const sampleIndex = Math.max(pending.candidate.fiducial, this.lastReported + 1, 0);
    this.lastReported = sampleIndex;
    out.push({ sampleIndex, featurePeak: pending.candidate.value, searchBack: pending.searchBack });
  }

  private updateThreshold(): void {
    const q = this.qrsLevels.median();
    const noise = this.noiseLevels.median();
    this.threshold = noise + this.config.thresholdFraction * (q - noise);
  }

  private startLearning(from: number): void {
    this.learningActive = true;
    this.learningUntil = from + this.learning;
    this.learningCandidates = [];
    this.searchBackCandidate = undefined;
  }

  /** End of a learning period: levels from its largest peaks, then detect its candidates retrospectively. */
  private endLearning(out: QrsDetection[]): void {
    const candidates = this.learningCandidates;
    this.learningCandidates = [];
    this.learningActive = false;
    const start = this.learningUntil - this.learning;
    // The largest candidate of each second stands for that second's QRS.
    const perSecond = new Map<number, number>();
    for (const c of candidates) {
      const second = Math.floor((c.featureIndex - start) / this.sampleRateHz);
      perSecond.set(second, Math.max(perSecond.get(second) ?? 0, c.value));
    }
    const maxima = [...perSecond.values()].sort((a, b) => a - b);
    const level = maxima.length === 0 ? 0 : maxima[Math.floor(maxima.length / 2)];
    this.qrsLevels.fill(level);
    this.noiseLevels.fill(0);
    if (!Number.isFinite(this.lastQrsFiducial) || this.rrIntervals.median() === 0)
      this.rrIntervals.fill(this.sampleRateHz);
    this.updateThreshold();
    this.lastQrsFeature = Math.max(this.lastQrsFeature, start);
    for (const c of candidates) this.classify(c, out);
  }
}
