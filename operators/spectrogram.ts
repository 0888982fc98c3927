/**
 * `spectrogram`: beats -> beats with their STFT image (src/dsp/stft.ts): periodic Hann window, FFT size
 * and hop configurable, log-magnitude and per-image min-max normalisation by default. Shape (bins x
 * frames, row-major by frequency) = (fftSize / 2 + 1) x (1 + floor((beatSamples - fftSize) / hop)):
 * 17 x 39 for 187-sample beats, a 32-point FFT and hop 4. Stateless, no look-ahead.
 */
import { map, type OperatorFunction } from 'rxjs';
import { Stft, type StftConfig } from '../src/dsp/stft';
import type { BeatSpectrogram, SegmentedBeat } from './types';

/**
 * Add a spectrogram to every beat.
 *
 * @example
 * beats$.pipe(spectrogram({ fftSize: 32, hop: 4 })) // each item has spectrogram (17 x 39), bins, frames
 */
export function spectrogram(
  config: Partial<StftConfig> = {},
): OperatorFunction<SegmentedBeat, BeatSpectrogram> {
  const stft = new Stft(config);
  return map((beat) => {
    const { bins, frames } = stft.shape(beat.samples.length);
    return { ...beat, spectrogram: stft.compute(beat.samples), bins, frames };
  });
}
