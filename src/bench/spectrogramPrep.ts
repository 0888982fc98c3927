/**
 * What a training batch's spectrograms cost the main thread, computed there (the STFT of every beat) or
 * handed to the spectrogram worker (packing the samples, posting them, and building the examples from
 * the images that come back; src/trainer/spectrogramWorker.ts). `bench train-step` reports it beside the
 * step time: on a native backend the train step holds the main thread, so main-thread preparation adds to
 * every step, and the worker's share is what it takes off.
 */
import { mulberry32 } from '../dsp/random';
import { ExampleEncoder, type LabelledBeat } from '../trainer/examples';
import { examplesFromImages, packSamples, SpectrogramWorker } from '../trainer/spectrogramWorker';

export interface SpectrogramPrepTimes {
  /** Median ms per batch with the STFT on the main thread. */
  inlineMs: number;
  /** Median main-thread ms per batch with the worker: packing, posting, examples from the images. */
  workerMainThreadMs: number;
  /** Median ms from posting a batch to having its images back (while nothing else runs). */
  workerRoundTripMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Alternates the two ways `rounds` times (after two untimed rounds) over one batch of synthetic beats. */
export async function timeSpectrogramPrep(
  batch: number,
  rounds: number,
  seed = 1,
): Promise<SpectrogramPrepTimes> {
  const encoder = new ExampleEncoder(187);
  const random = mulberry32(seed);
  const beats: LabelledBeat[] = Array.from({ length: batch }, () => ({
    samples: Array.from({ length: encoder.beatSamples }, () => Math.fround(random())),
    aamiClass: 'N',
  }));
  const worker = new SpectrogramWorker({ stft: encoder.stftConfig, beatSamples: encoder.beatSamples });
  const inline: number[] = [];
  const mainThread: number[] = [];
  const roundTrip: number[] = [];
  try {
    for (let r = 0; r < rounds + 2; r++) {
      let t0 = performance.now();
      for (const beat of beats) encoder.encode(beat);
      const inlineMs = performance.now() - t0;

      // The training path's own steps (pipelines/train.ts): pack, post, examples from the images.
      t0 = performance.now();
      const answer = worker.images(packSamples(beats, encoder.beatSamples), batch);
      const postMs = performance.now() - t0;
      const images = await answer;
      const roundTripMs = performance.now() - t0;
      t0 = performance.now();
      examplesFromImages(encoder, beats, images);
      const examplesMs = performance.now() - t0;
      if (r < 2) continue;
      inline.push(inlineMs);
      mainThread.push(postMs + examplesMs);
      roundTrip.push(roundTripMs);
    }
  } finally {
    await worker.close();
  }
  return {
    inlineMs: median(inline),
    workerMainThreadMs: median(mainThread),
    workerRoundTripMs: median(roundTrip),
  };
}
