/**
 * Linear-phase FIR design by the window method with a Kaiser window (Kaiser 1974; Oppenheim & Schafer,
 * "Discrete-Time Signal Processing", section 7.5). Given a pass-band edge, a stop-band edge and a
 * stop-band attenuation, Kaiser's formulas give the window's beta and the filter length; the taps are
 * the ideal low-pass impulse response (a sinc) at the middle of the transition band, times the window.
 * All lengths returned are odd, so the group delay (N - 1) / 2 is an integer number of samples.
 */

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser's beta for a stop-band attenuation in dB. */
export function kaiserBeta(attenuationDb: number): number {
  if (attenuationDb > 50) return 0.1102 * (attenuationDb - 8.7);
  if (attenuationDb >= 21) return 0.5842 * (attenuationDb - 21) ** 0.4 + 0.07886 * (attenuationDb - 21);
  return 0;
}

/**
 * Kaiser's estimate of the length needed for `attenuationDb` with a transition band of
 * `transitionCyclesPerSample` (transition width / sampling rate), rounded up to an odd number.
 */
export function kaiserLength(attenuationDb: number, transitionCyclesPerSample: number): number {
  if (!(transitionCyclesPerSample > 0)) throw new RangeError('transition width must be positive');
  const n = Math.ceil((attenuationDb - 7.95) / (2.285 * 2 * Math.PI * transitionCyclesPerSample)) + 1;
  const length = Math.max(3, n);
  return length % 2 === 1 ? length : length + 1;
}

/** Kaiser window of odd or even length `length`. */
export function kaiserWindow(length: number, beta: number): Float64Array {
  const w = new Float64Array(length);
  const denominator = besselI0(beta);
  const half = (length - 1) / 2;
  for (let n = 0; n < length; n++) {
    const r = half === 0 ? 0 : (n - half) / half;
    w[n] = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / denominator;
  }
  return w;
}

export interface LowpassSpec {
  /** Cut-off (the -6 dB point, middle of the transition band), in cycles per sample (0 .. 0.5). */
  cutoffCyclesPerSample: number;
  /** Transition band width, in cycles per sample. */
  transitionCyclesPerSample: number;
  /** Stop-band attenuation in dB (also sets the pass-band ripple: 20 log10(1 + 10^(-A/20))). */
  attenuationDb: number;
  /** DC gain of the filter (default 1). */
  gain?: number;
  /** Force a length (odd); default: Kaiser's estimate. */
  length?: number;
}

/** Windowed-sinc low-pass FIR taps (odd length, symmetric, DC gain `gain`). */
export function designLowpass(spec: LowpassSpec): Float64Array {
  const fc = spec.cutoffCyclesPerSample;
  if (!(fc > 0 && fc < 0.5)) throw new RangeError(`cut-off must be in (0, 0.5) cycles/sample, got ${fc}`);
  let length = spec.length ?? kaiserLength(spec.attenuationDb, spec.transitionCyclesPerSample);
  if (length % 2 === 0) length++;
  const window = kaiserWindow(length, kaiserBeta(spec.attenuationDb));
  const taps = new Float64Array(length);
  const half = (length - 1) / 2;
  let sum = 0;
  for (let n = 0; n < length; n++) {
    const t = n - half;
    const ideal = t === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * t) / (Math.PI * t);
    taps[n] = ideal * window[n];
    sum += taps[n];
  }
  const scale = (spec.gain ?? 1) / sum;
  for (let n = 0; n < length; n++) taps[n] *= scale;
  return taps;
}

/** |H(f)| of FIR taps at `f` cycles per sample (direct evaluation; for tests and documentation). */
export function firMagnitude(taps: ArrayLike<number>, cyclesPerSample: number): number {
  let re = 0;
  let im = 0;
  for (let n = 0; n < taps.length; n++) {
    const phi = -2 * Math.PI * cyclesPerSample * n;
    re += taps[n] * Math.cos(phi);
    im += taps[n] * Math.sin(phi);
  }
  return Math.hypot(re, im);
}
