import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../../src/dsp/random';
import { useSpectrogramWorker } from '../../../src/cli/training';
import { ExampleEncoder } from '../../../src/trainer/examples';
import { SpectrogramWorker, SpectrogramWorkerError } from '../../../src/trainer/spectrogramWorker';

const BEAT = 187;

function beats(count: number, seed: number): number[][] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => Array.from({ length: BEAT }, () => Math.fround(random())));
}

function packed(list: readonly number[][]): Float32Array {
  const out = new Float32Array(list.length * BEAT);
  list.forEach((b, i) => out.set(b, i * BEAT));
  return out;
}

describe('spectrograms in a worker thread', () => {
  it('gives the images the encoder computes itself, bit for bit, each job answered in order', async () => {
    const encoder = new ExampleEncoder(BEAT, { fftSize: 32, hop: 4 });
    const worker = new SpectrogramWorker({ stft: encoder.stftConfig, beatSamples: BEAT });
    try {
      const jobs = [beats(5, 1), beats(1, 2), beats(64, 3)];
      // All sent before any is answered.
      const answers = await Promise.all(jobs.map((list) => worker.images(packed(list), list.length)));
      jobs.forEach((list, j) => {
        assert.equal(answers[j].length, list.length * encoder.imageSize);
        list.forEach((samples, i) => {
          const own = encoder.encode({ samples, aamiClass: 'N' })?.image;
          const image = answers[j].subarray(i * encoder.imageSize, (i + 1) * encoder.imageSize);
          assert.deepEqual(image, own, `job ${j} beat ${i}`);
        });
      });
    } finally {
      await worker.close();
    }
  });

  it('refuses a job whose samples do not make whole beats, and every job once closed', async () => {
    const worker = new SpectrogramWorker({ stft: {}, beatSamples: BEAT });
    await assert.rejects(worker.images(new Float32Array(BEAT + 1), 1), /188 samples for 1 beats of 187/);
    const waiting = assert.rejects(
      worker.images(packed(beats(200, 4)), 200),
      (err: Error) => err instanceof SpectrogramWorkerError && /closed/.test(err.message),
    );
    await worker.close();
    await waiting;
    await assert.rejects(worker.images(packed(beats(1, 5)), 1), SpectrogramWorkerError);
  });

  it('fails its jobs with a typed error when the thread cannot compute them', async () => {
    // fftSize 24 is not a power of two: the thread's Stft refuses it, the thread dies, the job fails.
    const worker = new SpectrogramWorker({ stft: { fftSize: 24 }, beatSamples: BEAT });
    try {
      await assert.rejects(
        worker.images(packed(beats(2, 6)), 2),
        (err: Error) =>
          err instanceof SpectrogramWorkerError && /fftSize must be a power of two/.test(err.message),
      );
    } finally {
      await worker.close();
    }
  });
});

describe('--spectrogram-worker', () => {
  it('auto uses the worker on a GPU device only; on and off are what they say', () => {
    const devices = [true, false];
    const chosen = (choice: 'auto' | 'on' | 'off') =>
      devices.map((gpuDevice) => useSpectrogramWorker(choice, { gpuDevice }));
    assert.deepEqual(chosen('auto'), [true, false]);
    assert.deepEqual(chosen('on'), [true, true]);
    assert.deepEqual(chosen('off'), [false, false]);
  });
});
