/**
 * Worker thread of {@link SpectrogramWorker}: computes the STFT images of packed beats, one job at a
 * time, in the order the jobs arrive, and hands each result back with its buffer transferred (no copy).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Stft, type StftConfig } from '../dsp/stft';

export interface SpectrogramThreadConfig {
  stft: Partial<StftConfig>;
  beatSamples: number;
}

export interface SpectrogramJob {
  id: number;
  /** `count` beats of `beatSamples` samples each, back to back. */
  samples: Float32Array;
  count: number;
}

export interface SpectrogramResult {
  id: number;
  /** `count` images of the encoder's image size, back to back; absent when `error` says why. */
  images?: Float32Array;
  error?: string;
}

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error('spectrogramThread must run in a worker thread');
  const config = workerData as SpectrogramThreadConfig;
  const stft = new Stft(config.stft);
  const { bins, frames } = stft.shape(config.beatSamples);
  const imageSize = bins * frames;
  port.on('message', (job: SpectrogramJob) => {
    try {
      // The job's length was checked by the client (SpectrogramWorker.images), the only sender.
      const images = new Float32Array(job.count * imageSize);
      for (let i = 0; i < job.count; i++)
        stft.compute(
          job.samples.subarray(i * config.beatSamples, (i + 1) * config.beatSamples),
          images.subarray(i * imageSize, (i + 1) * imageSize),
        );
      const result: SpectrogramResult = { id: job.id, images };
      port.postMessage(result, [images.buffer]);
    } catch (err) {
      const result: SpectrogramResult = {
        id: job.id,
        error: err instanceof Error ? err.message : String(err),
      };
      port.postMessage(result);
    }
  });
}

main();
