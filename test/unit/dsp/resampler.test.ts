import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Resampler, rateRatio, rationalApproximation } from '../../../src/dsp/resampler';

/** Resample a whole signal in chunks of `chunk` samples. */
function resampleAll(
  x: Float64Array,
  fin: number,
  fout: number,
  chunk = 360,
  first = 0,
): { y: Float64Array; r: Resampler } {
  const r = new Resampler(fin, fout, first);
  const parts: Float64Array[] = [];
  for (let i = 0; i < x.length; i += chunk) parts.push(r.process(x.subarray(i, i + chunk)));
  parts.push(r.finish());
  const y = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    y.set(p, o);
    o += p.length;
  }
  return { y, r };
}

const sine = (f: number, fs: number, n: number, phase = 0) =>
  Float64Array.from({ length: n }, (_, i) => Math.sin(2 * Math.PI * f * (i / fs) + phase));

/** Amplitude of frequency f in y (least-squares fit of sin and cos), away from the edges. */
function amplitudeAt(y: Float64Array, f: number, fs: number, margin: number): number {
  let ss = 0;
  let sc = 0;
  let n = 0;
  for (let i = margin; i < y.length - margin; i++) {
    ss += y[i] * Math.sin((2 * Math.PI * f * i) / fs);
    sc += y[i] * Math.cos((2 * Math.PI * f * i) / fs);
    n++;
  }
  return (2 * Math.hypot(ss, sc)) / n;
}

describe('Resampler', () => {
  it('finds exact up/down factors for rate pairs', () => {
    assert.deepEqual(rateRatio(360, 125), [25, 72]);
    assert.deepEqual(rateRatio(250, 125), [1, 2]);
    assert.deepEqual(rateRatio(128, 360), [45, 16]);
    assert.deepEqual(rateRatio(1000, 128.5), [257, 2000]);
    assert.deepEqual(rationalApproximation(Math.PI, 1000), [355, 113]);
  });

  it('360 -> 125 Hz: flat pass band (within 0.05 dB up to 50 Hz), >= 55 dB stop band above 62.5 Hz', () => {
    const fs = 360;
    const n = 36_000;
    for (const f of [1, 5, 10, 20, 30, 40, 50]) {
      const { y } = resampleAll(sine(f, fs, n), fs, 125);
      const gainDb = 20 * Math.log10(amplitudeAt(y, f, 125, 500));
      assert.ok(Math.abs(gainDb) < 0.05, `${f} Hz: ${gainDb.toFixed(4)} dB`);
    }
    // Input above the output Nyquist frequency must not alias into the output.
    for (const f of [63, 70, 90, 120, 170]) {
      const { y } = resampleAll(sine(f, fs, n), fs, 125);
      const alias = Math.abs(((f + 62.5) % 125) - 62.5);
      const leakDb = 20 * Math.log10(amplitudeAt(y, alias, 125, 500) + 1e-12);
      assert.ok(leakDb < -55, `${f} Hz aliases to ${alias} Hz at ${leakDb.toFixed(1)} dB`);
    }
  });

  it('upsamples (125 -> 360 Hz) without images', () => {
    const { y } = resampleAll(sine(20, 125, 12_500), 125, 360);
    assert.ok(Math.abs(20 * Math.log10(amplitudeAt(y, 20, 360, 1000))) < 0.05);
    const imageDb = 20 * Math.log10(amplitudeAt(y, 105, 360, 1000) + 1e-12); // 125 - 20 Hz image
    assert.ok(imageDb < -55, `image at ${imageDb.toFixed(1)} dB`);
  });

  it('is time-aligned: output j is the input at time j * M / L (the delay is only latency)', () => {
    const fs = 360;
    const x = sine(7, fs, 7200, 0.3);
    const { y, r } = resampleAll(x, fs, 125);
    assert.equal(y.length, Math.floor((7199 * 125) / 360) + 1, 'outputs cover exactly the input span');
    for (let j = 200; j < y.length - 200; j += 37) {
      const expected = Math.sin(2 * Math.PI * 7 * (j / 125) + 0.3);
      assert.ok(Math.abs(y[j] - expected) < 2e-3, `sample ${j}: ${y[j]} vs ${expected}`);
    }
    // Latency: the prototype's half length, in input samples.
    assert.equal(r.latencyInputSamples, (r.prototypeLength - 1) / 2 / r.up);
    assert.ok(r.latencyInputSamples > 40 && r.latencyInputSamples < 70, String(r.latencyInputSamples));
  });

  it('reports each output as soon as its look-ahead has arrived, never earlier', () => {
    const r = new Resampler(360, 125, 0);
    const x = sine(3, 360, 3600);
    let inputs = 0;
    let outputs = 0;
    for (let i = 0; i < x.length; i += 17) {
      const chunk = x.subarray(i, i + 17);
      inputs += chunk.length;
      outputs += r.process(chunk).length;
      // Output j needs input floor((j M + c) / L): all with that <= inputs - 1 are out, no more.
      const c = (r.prototypeLength - 1) / 2;
      const expected = Math.floor((inputs * r.up - 1 - c) / r.down) + 1;
      assert.equal(outputs, Math.max(0, expected));
    }
  });

  it('gives identical output for any chunking, and numbers outputs from a non-zero start', () => {
    const x = sine(11, 360, 5000).map((v, i) => v + 0.001 * i);
    const a = resampleAll(x, 360, 125, 360).y;
    const b = resampleAll(x, 360, 125, 1).y;
    const c = resampleAll(x, 360, 125, 1234).y;
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.deepEqual(Array.from(c), Array.from(a));
    const shifted = new Resampler(360, 125, 1000);
    assert.equal(shifted.firstOutputIndex, Math.ceil((1000 * 125) / 360));
  });

  it('has no start-up transient on a DC offset (edges are extended, not zero-padded)', () => {
    const { y } = resampleAll(new Float64Array(1000).fill(2.5), 360, 125);
    for (const v of y) assert.ok(Math.abs(v - 2.5) < 1e-6, String(v));
  });
});
