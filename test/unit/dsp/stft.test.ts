import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Stft, spectrogramShape, DEFAULT_STFT_CONFIG } from '../../../src/dsp/stft';
import { mulberry32 } from '../../../src/dsp/random';

/** Direct DFT magnitude of one Hann-windowed frame (the definition the FFT must agree with). */
function directMagnitudes(x: ArrayLike<number>, start: number, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k <= n / 2; k++) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < n; i++) {
      const idx = start + i;
      const v = idx >= 0 && idx < x.length ? x[idx] : 0;
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
      re += v * w * Math.cos((-2 * Math.PI * k * i) / n);
      im += v * w * Math.sin((-2 * Math.PI * k * i) / n);
    }
    out.push(Math.hypot(re, im));
  }
  return out;
}

const randomBeat = (n: number, seed: number) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r());
};

describe('STFT', () => {
  it('has the documented shape: 17 x 39 for 187 samples, 32-point FFT, hop 4', () => {
    assert.deepEqual(spectrogramShape(DEFAULT_STFT_CONFIG, 187), { bins: 17, frames: 39 });
    assert.deepEqual(spectrogramShape({ ...DEFAULT_STFT_CONFIG, padding: 'centre' }, 187), {
      bins: 17,
      frames: 47,
    });
    assert.deepEqual(spectrogramShape({ ...DEFAULT_STFT_CONFIG, fftSize: 64, hop: 8 }, 187), {
      bins: 33,
      frames: 16,
    });
    assert.deepEqual(spectrogramShape(DEFAULT_STFT_CONFIG, 20), { bins: 17, frames: 0 });
    assert.equal(new Stft().compute(randomBeat(187, 1)).length, 17 * 39);
  });

  it('magnitudes equal a direct DFT of each Hann-windowed frame (no padding and centre padding)', () => {
    const x = randomBeat(187, 7);
    for (const padding of ['none', 'centre'] as const) {
      const stft = new Stft({ scale: 'magnitude', normalization: 'none', padding });
      const { bins, frames } = stft.shape(x.length);
      const image = stft.compute(x);
      const offset = padding === 'centre' ? 16 : 0;
      for (let f = 0; f < frames; f++) {
        const direct = directMagnitudes(x, f * 4 - offset, 32);
        for (let k = 0; k < bins; k++) {
          assert.ok(Math.abs(image[k * frames + f] - direct[k]) < 1e-4, `${padding} frame ${f} bin ${k}`);
        }
      }
    }
  });

  it('puts a pure tone in its bin, and scales and normalises as configured', () => {
    // 8 cycles per 32 samples: bin 8.
    const tone = Float32Array.from({ length: 187 }, (_, i) => Math.sin((2 * Math.PI * 8 * i) / 32));
    const mag = new Stft({ scale: 'magnitude', normalization: 'none' });
    const { frames } = mag.shape(187);
    const image = mag.compute(tone);
    for (let f = 0; f < frames; f++) {
      let best = 0;
      for (let k = 1; k < 17; k++) if (image[k * frames + f] > image[best * frames + f]) best = k;
      assert.equal(best, 8);
      assert.ok(Math.abs(image[8 * frames + f] - 8) < 1e-3, 'Hann: |X| = N/4 for a unit sine on its bin');
    }
    const power = new Stft({ scale: 'power', normalization: 'none' }).compute(tone);
    assert.ok(Math.abs(power[8 * frames] - 64) < 1e-2);
    const log = new Stft({ scale: 'log', normalization: 'none', logEpsilon: 1e-3 }).compute(tone);
    assert.ok(Math.abs(log[8 * frames] - Math.log(8 + 1e-3)) < 1e-4);
    const minmax = new Stft().compute(tone);
    assert.equal(Math.max(...minmax), 1);
    assert.equal(Math.min(...minmax), 0);
    const standard = new Stft({ normalization: 'standardize' }).compute(randomBeat(187, 3));
    const mean = standard.reduce((a, b) => a + b, 0) / standard.length;
    const sd = Math.sqrt(standard.reduce((a, b) => a + (b - mean) ** 2, 0) / standard.length);
    assert.ok(Math.abs(mean) < 1e-5 && Math.abs(sd - 1) < 1e-4);
  });

  it('rejects bad configurations', () => {
    assert.throws(() => new Stft({ fftSize: 30 }), /power of two/);
    assert.throws(() => new Stft({ hop: 0 }), /hop/);
  });
});
