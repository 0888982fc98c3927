/**
 * Streaming rational resampler: a polyphase windowed-sinc (Kaiser) FIR that converts any sampling rate
 * to any other. The rate ratio out/in is expressed as L/M in lowest terms (exact for integer and
 * decimal rates); conceptually the input is up-sampled by L (zeros inserted), low-pass filtered at the
 * lower of the two Nyquist frequencies, and down-sampled by M. Only the L polyphase branches that produce
 * output are evaluated, so an output sample costs ceil(N / L) multiply-adds for an N-tap prototype.
 *
 * Output numbering is time-aligned with the input: output index j is the signal at input time
 * j * M / L (input sample units), i.e. the filter's group delay is compensated in the numbering and shows
 * only as latency. Output j can be produced once input floor((j * M + c) / L) has arrived, where
 * c = (N - 1) / 2: the look-ahead is `latencyInputSamples` = c / L input samples. At the edges of a
 * segment the signal is extended with its first and last values (no start-up ramp, no zero-padding dip).
 */
import { designLowpass } from './firDesign';

export interface ResamplerConfig {
  /** Pass-band edge as a fraction of the lower Nyquist frequency (default 0.8). */
  passbandFraction: number;
  /** Stop-band edge as a fraction of the lower Nyquist frequency (default 1.0: nothing aliases). */
  stopbandFraction: number;
  /** Stop-band attenuation in dB (default 60). */
  attenuationDb: number;
  /** Largest denominator when the rate ratio is not an exact fraction (default 10,000). */
  maxDenominator: number;
}

export const DEFAULT_RESAMPLER_CONFIG: Readonly<ResamplerConfig> = Object.freeze({
  passbandFraction: 0.8,
  stopbandFraction: 1.0,
  attenuationDb: 60,
  maxDenominator: 10_000,
});

/**
 * Input rates (Hz) that live sources may declare. ECG is sampled at about 100 Hz to a few kHz; far outside
 * that, the polyphase design (whose length grows with the rate ratio's terms) costs seconds of CPU and
 * hundreds of MB for one source (about 100 kHz), never finishes (0.001 Hz), or throws (1e9 Hz), and a chunk
 * that makes the live chain throw would stop the consumer at every redelivery. Live pipelines therefore
 * validate declared rates against this range at their edge: the bedside gateway refuses such a message
 * (AE), serve dead-letters such a chunk.
 */
export const LIVE_SAMPLE_RATE_RANGE_HZ: readonly [number, number] = Object.freeze([50, 10_000] as const);

/** Why `rateHz` cannot be a live source's sampling rate, or undefined when it can. */
export function liveSampleRateProblem(rateHz: number): string | undefined {
  const [low, high] = LIVE_SAMPLE_RATE_RANGE_HZ;
  if (!Number.isFinite(rateHz) || rateHz < low || rateHz > high)
    return `sampling rate ${rateHz} Hz is outside the ${low}-${high} Hz accepted for live ECG`;
  return undefined;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Best rational approximation p/q of `x` > 0 with q <= maxDenominator (continued fractions). */
export function rationalApproximation(x: number, maxDenominator: number): [number, number] {
  if (!(x > 0) || !Number.isFinite(x)) throw new RangeError(`ratio must be positive and finite, got ${x}`);
  let [p0, q0, p1, q1] = [0, 1, 1, 0];
  let v = x;
  for (let i = 0; i < 64; i++) {
    const a = Math.floor(v);
    const p2 = a * p1 + p0;
    const q2 = a * q1 + q0;
    if (q2 > maxDenominator) break;
    [p0, q0, p1, q1] = [p1, q1, p2, q2];
    const frac = v - a;
    if (frac < 1e-12 || Math.abs(p1 / q1 - x) < 1e-15 * x) break;
    v = 1 / frac;
  }
  return [p1, q1];
}

/** The up/down factors L, M (coprime) for a rate pair. */
export function rateRatio(
  inputRateHz: number,
  outputRateHz: number,
  maxDenominator = 10_000,
): [number, number] {
  // Exact for rates with up to 6 decimals; otherwise the best approximation with bounded denominator.
  const scale = 1e6;
  const a = Math.round(inputRateHz * scale);
  const b = Math.round(outputRateHz * scale);
  if (Math.abs(a / scale - inputRateHz) < 1e-9 && Math.abs(b / scale - outputRateHz) < 1e-9) {
    const g = gcd(a, b);
    const up = b / g;
    const down = a / g;
    if (up <= maxDenominator * 100 && down <= maxDenominator * 100) return [up, down];
  }
  return rationalApproximation(outputRateHz / inputRateHz, maxDenominator);
}

/**
 * One segment's resampler. `process` takes the next input samples and returns every output sample that
 * has become computable; `finish` extends the input with its last value and returns the rest, so that
 * the outputs cover exactly the input span. Outputs are numbered from `firstOutputIndex`.
 *
 * @example
 * const r = new Resampler(360, 125, 0); // input numbering starts at sample 0
 * const y1 = r.process(chunk1); const y2 = r.process(chunk2); const tail = r.finish();
 */
export class Resampler {
  readonly up: number;
  readonly down: number;
  /** Prototype filter length N (odd) and taps per polyphase branch K. */
  readonly prototypeLength: number;
  readonly tapsPerPhase: number;
  /** Look-ahead in input samples: output j needs input up to j * M / L + latencyInputSamples. */
  readonly latencyInputSamples: number;
  /** Index (output numbering) of the first output. */
  readonly firstOutputIndex: number;
  /** Polyphase taps: branch p holds h[p + tL] for t = K-1 .. 0 (reversed, so the inner loop runs forward). */
  private readonly branches: Float64Array;
  private readonly centre: number;
  /** The last K-1 inputs (oldest first), followed by room for new input. */
  private history: Float64Array;
  /** Index (input numbering) of history[0]. */
  private historyStart: number;
  private historyLength = 0;
  private nextOutput: number;
  private lastInputIndex: number;
  private lastValue = 0;
  private started = false;

  constructor(
    readonly inputRateHz: number,
    readonly outputRateHz: number,
    /** Input index of the first sample that will be pushed. */
    readonly firstInputIndex: number,
    config: Partial<ResamplerConfig> = {},
  ) {
    const c = { ...DEFAULT_RESAMPLER_CONFIG, ...config };
    [this.up, this.down] = rateRatio(inputRateHz, outputRateHz, c.maxDenominator);
    const L = this.up;
    const M = this.down;
    // Prototype at the up-sampled rate L * fin; edges relative to the lower Nyquist frequency.
    const upsampledRate = inputRateHz * L;
    const nyquist = Math.min(inputRateHz, outputRateHz) / 2;
    const pass = (c.passbandFraction * nyquist) / upsampledRate;
    const stop = (c.stopbandFraction * nyquist) / upsampledRate;
    const taps = designLowpass({
      cutoffCyclesPerSample: (pass + stop) / 2,
      transitionCyclesPerSample: stop - pass,
      attenuationDb: c.attenuationDb,
      gain: L,
    });
    const N = taps.length;
    this.prototypeLength = N;
    this.centre = (N - 1) / 2;
    const K = Math.ceil(N / L);
    this.tapsPerPhase = K;
    this.branches = new Float64Array(L * K);
    for (let p = 0; p < L; p++) {
      let sum = 0;
      for (let t = 0; t < K; t++) {
        const k = p + t * L;
        const v = k < N ? taps[k] : 0;
        this.branches[p * K + (K - 1 - t)] = v;
        sum += v;
      }
      // Each branch gets exactly unit DC gain: a constant input gives a constant output, with no ripple
      // at the branch-switching rate (the window method leaves each branch off by ~1e-4).
      for (let t = 0; t < K; t++) this.branches[p * K + t] /= sum;
    }
    this.latencyInputSamples = this.centre / L;
    this.firstOutputIndex = Math.ceil((firstInputIndex * L) / M);
    this.nextOutput = this.firstOutputIndex;
    this.lastInputIndex = firstInputIndex - 1;
    this.history = new Float64Array(Math.max(64, 2 * K));
    this.historyStart = firstInputIndex - (K - 1);
  }

  /** Index (output numbering) of the next output sample. */
  get nextOutputIndex(): number {
    return this.nextOutput;
  }

  /** Push input samples; returns the outputs that became computable (possibly none). */
  process(samples: ArrayLike<number>): Float64Array {
    if (samples.length === 0) return new Float64Array(0);
    const K = this.tapsPerPhase;
    if (!this.started) {
      // Left edge: the K-1 samples before the segment repeat its first value.
      this.started = true;
      this.history.fill(samples[0], 0, K - 1);
      this.historyLength = K - 1;
    }
    this.append(samples);
    this.lastValue = samples[samples.length - 1];
    this.lastInputIndex += samples.length;
    return this.produce(this.lastInputIndex);
  }

  /** End of the segment: returns the outputs up to the time of the last input sample. */
  finish(): Float64Array {
    if (!this.started) return new Float64Array(0);
    const L = this.up;
    const M = this.down;
    const lastOutput = Math.floor((this.lastInputIndex * L) / M);
    if (lastOutput < this.nextOutput) return new Float64Array(0);
    const needed = Math.floor((lastOutput * M + this.centre) / L);
    const pad = Math.max(0, needed - this.lastInputIndex);
    if (pad > 0) this.append(new Float64Array(pad).fill(this.lastValue));
    const out = this.produceUntil(lastOutput);
    this.lastInputIndex += pad;
    return out;
  }

  private append(samples: ArrayLike<number>): void {
    const need = this.historyLength + samples.length;
    if (need > this.history.length) {
      const grown = new Float64Array(Math.max(need, this.history.length * 2));
      grown.set(this.history.subarray(0, this.historyLength));
      this.history = grown;
    }
    if (samples instanceof Float64Array) this.history.set(samples, this.historyLength);
    else for (let i = 0; i < samples.length; i++) this.history[this.historyLength + i] = samples[i];
    this.historyLength = need;
  }

  private produce(availableUpTo: number): Float64Array {
    const L = this.up;
    const M = this.down;
    // Largest j with floor((j M + c) / L) <= availableUpTo.
    const last = Math.floor(((availableUpTo + 1) * L - 1 - this.centre) / M);
    return this.produceUntil(last);
  }

  private produceUntil(lastOutput: number): Float64Array {
    const L = this.up;
    const M = this.down;
    const K = this.tapsPerPhase;
    const count = Math.max(0, lastOutput - this.nextOutput + 1);
    const out = new Float64Array(count);
    const h = this.history;
    const branches = this.branches;
    const c = this.centre;
    const base0 = this.historyStart;
    for (let o = 0; o < count; o++) {
      const j = this.nextOutput + o;
      const u = j * M + c;
      const iMax = Math.floor(u / L);
      const p = u - iMax * L;
      const from = iMax - (K - 1) - base0; // oldest input used, as an offset into history
      const tapOffset = p * K;
      let acc = 0;
      for (let t = 0; t < K; t++) acc += branches[tapOffset + t] * h[from + t];
      out[o] = acc;
    }
    this.nextOutput += count;
    // Keep only what the next output can still need: inputs from (next iMax) - (K - 1) on.
    const nextIMax = Math.floor((this.nextOutput * M + c) / L);
    const keepFrom = Math.min(nextIMax - (K - 1), this.historyStart + this.historyLength) - this.historyStart;
    if (keepFrom > 0) {
      h.copyWithin(0, keepFrom, this.historyLength);
      this.historyLength -= keepFrom;
      this.historyStart += keepFrom;
    }
    return out;
  }
}
