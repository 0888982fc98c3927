import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EcgFilter } from '../../../src/dsp/ecgFilter';
import { firMagnitude } from '../../../src/dsp/firDesign';

function filterAll(x: Float64Array, fs: number, chunk = 125): { y: Float64Array; f: EcgFilter } {
  const f = new EcgFilter(fs);
  const parts: Float64Array[] = [];
  for (let i = 0; i < x.length; i += chunk) parts.push(f.process(x.subarray(i, i + chunk)));
  parts.push(f.finish());
  const y = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    y.set(p, o);
    o += p.length;
  }
  return { y, f };
}

describe('EcgFilter', () => {
  it('keeps the signal length and reports a constant integer delay', () => {
    const x = Float64Array.from({ length: 3000 }, (_, i) => Math.sin(i / 10));
    const { y, f } = filterAll(x, 125);
    assert.equal(y.length, x.length);
    assert.ok(Number.isInteger(f.delaySamples));
    assert.equal(f.delaySamples, (f.lowpassTaps.length - 1) / 2 + f.baselineWindowSamples - 1);
  });

  it('is time-aligned (linear phase: every pass-band frequency has the same, compensated, delay)', () => {
    const fs = 125;
    for (const hz of [2, 5, 10, 20, 30]) {
      const x = Float64Array.from({ length: 5000 }, (_, i) => Math.sin((2 * Math.PI * hz * i) / fs + 0.4));
      const { y } = filterAll(x, fs);
      for (let i = 1000; i < 4000; i += 97)
        assert.ok(Math.abs(y[i] - x[i]) < 0.06, `${hz} Hz sample ${i}: ${y[i]} vs ${x[i]}`);
    }
  });

  it('removes baseline wander and offsets, and mains-frequency noise', () => {
    const fs = 360;
    const n = 36_000;
    const wander = Float64Array.from(
      { length: n },
      (_, i) => 3 + 0.8 * Math.sin((2 * Math.PI * 0.15 * i) / fs),
    );
    const { y } = filterAll(wander, fs);
    // The 3 mV offset is gone; 0.15 Hz wander is attenuated by 1 - sinc^2(0.15) (-23 dB): 0.8 mV -> 0.057.
    for (let i = 2000; i < n - 2000; i += 101) assert.ok(Math.abs(y[i]) < 0.06, `sample ${i}: ${y[i]}`);
    const mains = Float64Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * 60 * i) / fs));
    const { y: m } = filterAll(mains, fs);
    for (let i = 2000; i < n - 2000; i += 101) assert.ok(Math.abs(m[i]) < 0.02, `60 Hz left: ${m[i]}`);
    const f = new EcgFilter(fs);
    assert.ok(firMagnitude(f.lowpassTaps, 30 / fs) > 0.99);
    assert.ok(firMagnitude(f.lowpassTaps, 50 / fs) < 0.02);
  });

  it('gives the same output for any chunking', () => {
    const x = Float64Array.from({ length: 4000 }, (_, i) => Math.sin(i / 7) + 0.002 * i);
    assert.deepEqual(Array.from(filterAll(x, 250, 1).y), Array.from(filterAll(x, 250, 999).y));
  });

  it('handles segments shorter than its delay', () => {
    const x = Float64Array.from({ length: 20 }, (_, i) => i);
    const { y } = filterAll(x, 125, 7);
    assert.equal(y.length, 20);
  });
});
