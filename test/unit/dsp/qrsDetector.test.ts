import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QrsDetector, type QrsDetection } from '../../../src/dsp/qrsDetector';
import { compareBeats } from '../../../src/scoring/bxb';
import { syntheticEcg } from '../../helpers/syntheticEcg';

function detect(x: Float64Array, fs: number, chunk = 100): QrsDetection[] {
  const d = new QrsDetector(fs);
  const out: QrsDetection[] = [];
  for (let i = 0; i < x.length; i += chunk) d.push(x.subarray(i, i + chunk), out);
  d.finish(out);
  return out;
}

function scoreSynthetic(fs: number, options: Partial<Parameters<typeof syntheticEcg>[0]> = {}) {
  const { samples, rPeaks } = syntheticEcg({ sampleRateHz: fs, seconds: 120, seed: 5, ...options });
  const found = detect(samples, fs).map((d) => d.sampleIndex);
  const result = compareBeats(
    rPeaks.map((r) => ({ sampleIndex: r, symbol: 'N' })),
    found,
    { sampleRateHz: fs, startSeconds: 0, isBeat: (s) => s === 'N' },
  );
  return { result, found, rPeaks };
}

describe('QrsDetector', () => {
  for (const fs of [250, 500]) {
    it(`finds every beat of a synthetic ECG at ${fs} Hz, at the R-peak, with no false ones`, () => {
      const { result, found, rPeaks } = scoreSynthetic(fs);
      assert.equal(result.fn, 0, `missed ${result.falseNegatives.join(', ')}`);
      assert.equal(result.fp, 0, `extra ${result.falsePositives.join(', ')}`);
      // Fiducial within 10 ms of the true R-peak.
      for (const r of rPeaks) {
        const nearest = found.reduce((a, b) => (Math.abs(b - r) < Math.abs(a - r) ? b : a));
        assert.ok(Math.abs(nearest - r) <= 0.01 * fs, `R at ${r}, detected at ${nearest}`);
      }
    });
  }

  it('copes with baseline wander, noise and a fast, irregular rhythm at 250 Hz', () => {
    const { result } = scoreSynthetic(250, {
      baselineWanderMv: 1,
      noiseMv: 0.05,
      meanRrSeconds: 0.45,
      rrJitter: 0.25,
    });
    assert.equal(result.fn, 0);
    assert.equal(result.fp, 0);
  });

  it('finds beats in the learning period too (retrospectively), and reports in order', () => {
    const { samples, rPeaks } = syntheticEcg({ sampleRateHz: 360, seconds: 20, seed: 2 });
    const found = detect(samples, 360).map((d) => d.sampleIndex);
    assert.equal(found.length, rPeaks.length);
    for (let i = 1; i < found.length; i++) assert.ok(found[i] > found[i - 1]);
  });

  it('gives identical detections for any chunking', () => {
    const { samples } = syntheticEcg({ sampleRateHz: 360, seconds: 60, seed: 9, noiseMv: 0.03 });
    const a = detect(samples, 360, 360);
    assert.deepEqual(detect(samples, 360, 1), a);
    assert.deepEqual(detect(samples, 360, 4097), a);
  });

  it('never reports a beat later than its look-ahead bound', () => {
    const { samples } = syntheticEcg({ sampleRateHz: 250, seconds: 60, seed: 4 });
    const d = new QrsDetector(250);
    const out: QrsDetection[] = [];
    for (let i = 0; i < samples.length; i++) {
      const before = out.length;
      d.push(samples.subarray(i, i + 1), out);
      for (const det of out.slice(before)) assert.ok(i - det.sampleIndex <= d.maxLatencySamples);
    }
    assert.ok(d.maxLatencySeconds < 6);
  });

  it('does not fire on a flat or slowly drifting signal', () => {
    assert.equal(detect(new Float64Array(360 * 30), 360).length, 0);
    const drift = Float64Array.from({ length: 360 * 30 }, (_, i) => Math.sin(i / 2000));
    assert.equal(detect(drift, 360).length, 0);
  });
});
