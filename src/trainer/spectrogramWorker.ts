/**
 * Spectrograms off the main thread. With a native TensorFlow backend a train step is one synchronous call
 * that holds the JavaScript thread for its whole length, so reading ahead on that thread (the prefetch
 * queue) only fills the gaps between steps: the STFT of the next batches (about 22 us a beat) still runs
 * in series with training. In a worker thread it runs while the step runs. On a GPU, where a step takes
 * milliseconds, that is a large share of the step; on a CPU whose cores TensorFlow already uses it mostly
 * moves work around (docs/benchmarks.md has the figures).
 *
 * Jobs are answered in the order they were sent (one thread, FIFO), so the training order does not depend
 * on it: a run with the worker trains on the same batches, with the same images, as one without.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { EcgflowError } from '../errors';
import type { Example, ExampleEncoder, LabelledBeat } from './examples';
import type { SpectrogramJob, SpectrogramResult, SpectrogramThreadConfig } from './spectrogramThread';

export class SpectrogramWorkerError extends EcgflowError {
  constructor(message: string, cause?: unknown) {
    super('SPECTROGRAM_WORKER', message, { source: 'spectrogram worker' }, false, cause);
    this.name = 'SpectrogramWorkerError';
  }
}

interface Pending {
  resolve: (images: Float32Array) => void;
  reject: (err: unknown) => void;
}

export class SpectrogramWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Set once the thread failed, exited or was closed: every later call fails with it. */
  private failure: SpectrogramWorkerError | undefined;
  private closing = false;

  constructor(private readonly config: SpectrogramThreadConfig) {
    this.worker = new Worker(path.join(__dirname, 'spectrogramThread.js'), { workerData: config });
    this.worker.on('message', (result: SpectrogramResult) => {
      const waiting = this.pending.get(result.id);
      if (waiting === undefined) return;
      this.pending.delete(result.id);
      if (result.images !== undefined) waiting.resolve(result.images);
      else waiting.reject(new SpectrogramWorkerError(result.error ?? 'no images'));
    });
    this.worker.on('error', (err) =>
      this.fail(new SpectrogramWorkerError(`thread failed: ${err.message}`, err)),
    );
    // A reply that cannot be deserialised names no job: fail them all rather than leave one waiting.
    this.worker.on('messageerror', (err) =>
      this.fail(new SpectrogramWorkerError(`unreadable reply: ${err.message}`, err)),
    );
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(new SpectrogramWorkerError(`thread exited with code ${code}`));
    });
  }

  /**
   * The images of `count` beats packed in `samples` (transferred: the caller must not use it afterwards),
   * back to back in one Float32Array.
   */
  images(samples: Float32Array, count: number): Promise<Float32Array> {
    if (this.failure !== undefined) return Promise.reject(this.failure); // failed, exited or closed
    if (samples.length !== count * this.config.beatSamples)
      return Promise.reject(
        new RangeError(`${samples.length} samples for ${count} beats of ${this.config.beatSamples}`),
      );
    const id = this.nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const job: SpectrogramJob = { id, samples, count };
      try {
        this.worker.postMessage(job, [samples.buffer as ArrayBuffer]);
      } catch (err) {
        this.pending.delete(id);
        reject(new SpectrogramWorkerError(`could not post job ${id}`, err));
      }
    });
  }

  /** Stops the thread; jobs still waiting fail. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.fail(new SpectrogramWorkerError('closed'));
    await this.worker.terminate();
  }

  private fail(err: SpectrogramWorkerError): void {
    this.failure ??= err;
    for (const { reject } of this.pending.values()) reject(err);
    this.pending.clear();
  }
}

/** The beats' samples back to back, as {@link SpectrogramWorker.images} takes them (beats of beatSamples each). */
export function packSamples(beats: readonly LabelledBeat[], beatSamples: number): Float32Array {
  const packed = new Float32Array(beats.length * beatSamples);
  beats.forEach((beat, i) => packed.set(beat.samples, i * beatSamples));
  return packed;
}

/**
 * The beats' examples from their images as the worker returned them, in the beats' order. Each example
 * gets a copy of its image, not a view: one example left in a shuffle buffer would otherwise keep its whole
 * job's images alive.
 */
export function examplesFromImages(
  encoder: ExampleEncoder,
  beats: readonly LabelledBeat[],
  images: Float32Array,
): Example[] {
  const size = encoder.imageSize;
  return beats.flatMap((beat, i) => encoder.encode(beat, images.slice(i * size, (i + 1) * size)) ?? []);
}
