/**
 * Short-time Fourier transform of a beat into a 2-D image (frequency x time), with fft.js.
 *
 * Framing convention ("valid", no padding): frame f covers samples [f * hop, f * hop + fftSize); only
 * frames that fit entirely inside the input are taken, so an input of n >= fftSize samples gives
 * frames = 1 + floor((n - fftSize) / hop). Samples after the last full frame (n - fftSize) mod hop of them)
 * are not covered; for the default 187-sample beats, a 32-point FFT and hop 4 that is 3 zero-padding
 * samples at the end. With `padding: 'centre'` the input is instead padded with fftSize / 2 zeros on both
 * sides (frames centred on samples 0, hop, 2 hop, ...; frames = 1 + floor(n / hop)).
 * Bins are the non-negative frequencies 0 .. fftSize / 2 (bins = fftSize / 2 + 1), bin k at
 * k * sampleRate / fftSize Hz.
 *
 * Output: a Float32Array of bins * frames values, row-major by frequency: value (k, f) is at
 * k * frames + f; so 17 x 39 for the defaults on 187 samples (row 0 = DC).
 * Window: periodic Hann, w[i] = 0.5 - 0.5 cos(2 pi i / fftSize). Scaling: |X| (`magnitude`), |X|^2
 * (`power`) or ln(|X| + logEpsilon) (`log`); then per-image normalisation: `minmax` to [0, 1],
 * `standardize` to zero mean and unit variance, or `none`.
 */
import FFT from 'fft.js';

export type StftScale = 'magnitude' | 'power' | 'log';
export type StftNormalization = 'none' | 'minmax' | 'standardize';
export type StftPadding = 'none' | 'centre';

export interface StftConfig {
  /** FFT length (a power of two, >= 4). */
  fftSize: number;
  /** Samples between frame starts. */
  hop: number;
  window: 'hann' | 'rectangular';
  scale: StftScale;
  /** Added before the logarithm (input units). */
  logEpsilon: number;
  normalization: StftNormalization;
  padding: StftPadding;
}

export const DEFAULT_STFT_CONFIG: Readonly<StftConfig> = Object.freeze({
  fftSize: 32,
  hop: 4,
  window: 'hann' as const,
  scale: 'log' as StftScale,
  logEpsilon: 1e-3,
  normalization: 'minmax' as StftNormalization,
  padding: 'none' as StftPadding,
});

export interface SpectrogramShape {
  bins: number;
  frames: number;
}

/** Shape of the spectrogram of `inputSamples` samples. */
export function spectrogramShape(config: StftConfig, inputSamples: number): SpectrogramShape {
  const bins = config.fftSize / 2 + 1;
  const n = config.padding === 'centre' ? inputSamples + 2 * (config.fftSize / 2) : inputSamples;
  const frames = n >= config.fftSize ? 1 + Math.floor((n - config.fftSize) / config.hop) : 0;
  return { bins, frames };
}

/**
 * A reusable STFT for one configuration (FFT tables and window are built once).
 *
 * @example
 * const stft = new Stft();           // 32-point, hop 4, Hann, log magnitude, min-max
 * const image = stft.compute(beat);  // Float32Array, 17 x 39 for a 187-sample beat
 */
export class Stft {
  readonly config: StftConfig;
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly frame: number[];
  private readonly spectrum: number[];

  constructor(config: Partial<StftConfig> = {}) {
    const c = { ...DEFAULT_STFT_CONFIG, ...config };
    if (!Number.isInteger(Math.log2(c.fftSize)) || c.fftSize < 4)
      throw new RangeError(`fftSize must be a power of two >= 4, got ${c.fftSize}`);
    if (!Number.isInteger(c.hop) || c.hop < 1)
      throw new RangeError(`hop must be a positive integer, got ${c.hop}`);
    this.config = c;
    this.fft = new FFT(c.fftSize);
    this.window = new Float64Array(c.fftSize);
    for (let i = 0; i < c.fftSize; i++) {
      this.window[i] = c.window === 'hann' ? 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / c.fftSize) : 1;
    }
    this.frame = new Array<number>(c.fftSize).fill(0);
    this.spectrum = this.fft.createComplexArray() as number[];
  }

  shape(inputSamples: number): SpectrogramShape {
    return spectrogramShape(this.config, inputSamples);
  }

  /** The scaled, normalised spectrogram of `samples` (row-major, bins x frames). */
  compute(samples: ArrayLike<number>, out?: Float32Array): Float32Array {
    const c = this.config;
    const { bins, frames } = this.shape(samples.length);
    const image = out ?? new Float32Array(bins * frames);
    if (image.length !== bins * frames) throw new RangeError(`output must hold ${bins * frames} values`);
    const N = c.fftSize;
    const offset = c.padding === 'centre' ? N / 2 : 0;
    const frame = this.frame;
    const spectrum = this.spectrum;
    const w = this.window;
    for (let f = 0; f < frames; f++) {
      const start = f * c.hop - offset;
      if (start >= 0 && start + N <= samples.length) {
        for (let i = 0; i < N; i++) frame[i] = samples[start + i] * w[i];
      } else {
        for (let i = 0; i < N; i++) {
          const idx = start + i;
          frame[i] = idx >= 0 && idx < samples.length ? samples[idx] * w[i] : 0;
        }
      }
      this.fft.realTransform(spectrum, frame);
      for (let k = 0; k < bins; k++) {
        const re = spectrum[2 * k];
        const im = spectrum[2 * k + 1];
        const power = re * re + im * im;
        let v: number;
        if (c.scale === 'power') v = power;
        else if (c.scale === 'magnitude') v = Math.sqrt(power);
        else v = Math.log(Math.sqrt(power) + c.logEpsilon);
        image[k * frames + f] = v;
      }
    }
    normalise(image, c.normalization);
    return image;
  }
}

function normalise(image: Float32Array, mode: StftNormalization): void {
  if (mode === 'none' || image.length === 0) return;
  if (mode === 'minmax') {
    let min = Infinity;
    let max = -Infinity;
    for (const v of image) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max - min;
    for (let i = 0; i < image.length; i++) image[i] = range > 0 ? (image[i] - min) / range : 0;
    return;
  }
  let sum = 0;
  for (const v of image) sum += v;
  const mean = sum / image.length;
  let sq = 0;
  for (const v of image) sq += (v - mean) * (v - mean);
  const sd = Math.sqrt(sq / image.length);
  for (let i = 0; i < image.length; i++) image[i] = sd > 0 ? (image[i] - mean) / sd : 0;
}
