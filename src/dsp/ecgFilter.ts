/**
 * Causal ECG conditioning with a known, constant group delay: a noise low-pass (Kaiser windowed-sinc
 * FIR, removes EMG noise and mains interference above the cut-off) followed by baseline-wander removal
 * (the signal minus its baseline, estimated by two cascaded moving averages). Both stages are linear
 * phase with integer delays, so every frequency is delayed by exactly `delaySamples` and waveform shapes
 * (QRS, ST segment) are not distorted; the delay is compensated in the output numbering, so output n is
 * the filtered signal at input time n, produced once input n + delaySamples has arrived.
 *
 * Baseline stage: B = MA_W(MA_W(x)) with W = `baselineWindowSeconds` (odd length); y = x[n - (W - 1)] - B.
 * Its high-pass response is 1 - sinc^2(f W / fs): about -3 dB at 0.66 / W Hz (0.66 Hz for W = 1 s),
 * zero at DC, and within +/-0.4 dB above 1.3 / W Hz.
 */
import { designLowpass } from './firDesign';
import { MovingSum, oddLength } from './movingSum';

export interface EcgFilterConfig {
  /** Moving-average length of the baseline estimate (s); 0 disables baseline removal. */
  baselineWindowSeconds: number;
  /** Noise low-pass cut-off (-6 dB point, Hz); 0 disables it. Clamped to 0.4 * the sampling rate. */
  lowpassCutoffHz: number;
  /** Width of the low-pass transition band (Hz). */
  lowpassTransitionHz: number;
  /** Low-pass stop-band attenuation (dB). */
  lowpassAttenuationDb: number;
}

export const DEFAULT_ECG_FILTER_CONFIG: Readonly<EcgFilterConfig> = Object.freeze({
  baselineWindowSeconds: 1.0,
  lowpassCutoffHz: 40,
  lowpassTransitionHz: 10,
  lowpassAttenuationDb: 40,
});

/**
 * One segment's filter. `process` returns the outputs that became available (aligned to input time,
 * numbered from the first input); `finish` extends the input with its last value to return the rest,
 * so that the total output length equals the total input length.
 *
 * @example
 * const f = new EcgFilter(125);
 * const y = [f.process(chunk1), f.process(chunk2), f.finish()]; // y has as many samples as the chunks
 */
export class EcgFilter {
  readonly config: EcgFilterConfig;
  /** Total group delay = latency, in samples. */
  readonly delaySamples: number;
  readonly lowpassTaps: Float64Array;
  readonly baselineWindowSamples: number;
  private readonly lowpassDelay: number;
  private readonly baselineDelay: number;
  private readonly ma1: MovingSum | undefined;
  private readonly ma2: MovingSum | undefined;
  /** Low-pass input history (for the FIR), newest last. */
  private lpHistory: Float64Array;
  private lpFill = 0;
  /** Low-passed signal delayed for the baseline subtraction. */
  private readonly centreDelay: Float64Array;
  private centrePosition = 0;
  private inputs = 0;
  private lastValue = 0;
  private started = false;

  constructor(
    readonly sampleRateHz: number,
    config: Partial<EcgFilterConfig> = {},
  ) {
    const c = { ...DEFAULT_ECG_FILTER_CONFIG, ...config };
    this.config = c;
    if (c.lowpassCutoffHz > 0) {
      const cutoff = Math.min(c.lowpassCutoffHz, 0.4 * sampleRateHz);
      const transition = Math.min(c.lowpassTransitionHz, 2 * (0.5 * sampleRateHz - cutoff));
      this.lowpassTaps = designLowpass({
        cutoffCyclesPerSample: cutoff / sampleRateHz,
        transitionCyclesPerSample: transition / sampleRateHz,
        attenuationDb: c.lowpassAttenuationDb,
      });
    } else {
      this.lowpassTaps = Float64Array.of(1);
    }
    this.lowpassDelay = (this.lowpassTaps.length - 1) / 2;
    if (c.baselineWindowSeconds > 0) {
      this.baselineWindowSamples = oddLength(c.baselineWindowSeconds, sampleRateHz, 3);
      this.ma1 = new MovingSum(this.baselineWindowSamples);
      this.ma2 = new MovingSum(this.baselineWindowSamples);
      this.baselineDelay = this.baselineWindowSamples - 1;
    } else {
      this.baselineWindowSamples = 0;
      this.baselineDelay = 0;
    }
    this.delaySamples = this.lowpassDelay + this.baselineDelay;
    this.lpHistory = new Float64Array(Math.max(256, 4 * this.lowpassTaps.length));
    this.centreDelay = new Float64Array(this.baselineDelay + 1);
  }

  /** Push input samples; returns the aligned outputs now available (the first `delaySamples` come later). */
  process(samples: ArrayLike<number>): Float64Array {
    if (samples.length === 0) return new Float64Array(0);
    if (!this.started) this.start(samples[0]);
    const raw = this.step(samples);
    this.lastValue = samples[samples.length - 1];
    return this.align(raw, samples.length);
  }

  /** End of the segment: the last `delaySamples` outputs, computed with the last value held. */
  finish(): Float64Array {
    if (!this.started || this.delaySamples === 0) return new Float64Array(0);
    const real = this.inputs;
    const raw = this.step(new Float64Array(this.delaySamples).fill(this.lastValue));
    // Causal output k of the padding is the aligned output for input time real + k - delay; those before
    // the segment start (a segment shorter than the delay) are dropped.
    return raw.subarray(Math.max(0, this.delaySamples - real));
  }

  private start(x0: number): void {
    this.started = true;
    // As if x0 had been the input forever: no start-up transient in either stage.
    this.lpHistory.fill(x0, 0, this.lowpassTaps.length - 1);
    this.lpFill = this.lowpassTaps.length - 1;
    this.ma1?.reset(x0);
    this.ma2?.reset(x0 * this.baselineWindowSamples);
    this.centreDelay.fill(x0);
  }

  /** Causal outputs (delayed by `delaySamples`) for new inputs. */
  private step(samples: ArrayLike<number>): Float64Array {
    const taps = this.lowpassTaps;
    const N = taps.length;
    const need = this.lpFill + samples.length;
    if (need > this.lpHistory.length) {
      const grown = new Float64Array(Math.max(need, 2 * this.lpHistory.length));
      grown.set(this.lpHistory.subarray(0, this.lpFill));
      this.lpHistory = grown;
    }
    const h = this.lpHistory;
    if (samples instanceof Float64Array) h.set(samples, this.lpFill);
    else for (let i = 0; i < samples.length; i++) h[this.lpFill + i] = samples[i];
    const out = new Float64Array(samples.length);
    const norm =
      this.baselineWindowSamples > 0 ? 1 / (this.baselineWindowSamples * this.baselineWindowSamples) : 0;
    const centre = this.centreDelay;
    const centreLength = centre.length;
    for (let i = 0; i < samples.length; i++) {
      // Taps are symmetric, so convolution and correlation coincide.
      const from = this.lpFill + i - (N - 1);
      let low = 0;
      for (let k = 0; k < N; k++) low += taps[k] * h[from + k];
      if (this.ma1 === undefined || this.ma2 === undefined) {
        out[i] = low;
        continue;
      }
      const baseline = this.ma2.push(this.ma1.push(low)) * norm;
      // centreDelay is a ring holding the last baselineDelay + 1 low-passed values.
      const p = this.centrePosition;
      centre[p] = low;
      const oldest = p + 1 === centreLength ? 0 : p + 1;
      out[i] = centre[oldest] - baseline;
      this.centrePosition = oldest;
    }
    const keep = N - 1;
    const end = this.lpFill + samples.length;
    h.copyWithin(0, end - keep, end);
    this.lpFill = keep;
    this.inputs += samples.length;
    return out;
  }

  /** Drop the causal outputs that belong to times before the segment start. */
  private align(raw: Float64Array, count: number): Float64Array {
    const before = this.inputs - count;
    const skip = Math.max(0, this.delaySamples - before);
    return skip === 0 ? raw : raw.subarray(Math.min(skip, raw.length));
  }
}
