import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BeatWindowSegmenter, type WindowBeat } from '../../../src/dsp/beatWindows';

/** A ramp signal makes every normalised value predictable: x[i] = i. */
function run(
  n: number,
  peaks: number[],
  chunk: number,
  config: ConstructorParameters<typeof BeatWindowSegmenter>[2] = {},
  start = 0,
): { beats: WindowBeat<number>[]; seg: BeatWindowSegmenter<number> } {
  const seg = new BeatWindowSegmenter<number>(125, start, config);
  const x = Float64Array.from({ length: n }, (_, i) => i + start);
  const beats: WindowBeat<number>[] = [];
  let p = 0;
  for (let i = 0; i < n; i += chunk) {
    const to = Math.min(n, i + chunk);
    // Peaks arrive with the block that holds them, as marks do.
    while (p < peaks.length && peaks[p] - start < to) seg.addPeak(peaks[p], peaks[p++]);
    beats.push(...seg.pushSamples(x.subarray(i, to)));
  }
  while (p < peaks.length) seg.addPeak(peaks[p], peaks[p++]);
  beats.push(...seg.finish());
  return { beats, seg };
}

describe('BeatWindowSegmenter (Kachuee et al. beat form)', () => {
  it('cuts 1.2 x median RR from each R-peak, normalised per 10 s window, zero-padded to 187', () => {
    const peaks = Array.from({ length: 24 }, (_, k) => 50 + 100 * k); // RR = 100 samples (0.8 s at 125 Hz)
    const { beats } = run(2500, peaks, 125);
    assert.equal(beats.length, peaks.length);
    for (const b of beats) {
      assert.equal(b.samples.length, 187);
      assert.equal(b.rrSamples, 100);
      const windowStart = b.rPeakIndex < 1250 ? 0 : 1250;
      assert.equal(b.windowStart, windowStart);
      // On a ramp, sample i normalises to (i - windowStart) / 1249 (clipped at 1 past the window).
      for (let i = 0; i < 120; i++) {
        const expected = Math.min(1, (b.rPeakIndex + i - windowStart) / 1249);
        assert.ok(Math.abs(b.samples[i] - expected) < 1e-6, `beat at ${b.rPeakIndex}, sample ${i}`);
      }
      for (let i = 120; i < 187; i++) assert.equal(b.samples[i], 0);
    }
  });

  it('caps long beats at 187 samples, and uses the previous T for a window with one beat', () => {
    const { beats } = run(2500, [100, 300, 1300], 50); // RR 200 -> 240 > 187; window 2 has one peak
    assert.deepEqual(
      beats.map((b) => b.rrSamples),
      [200, 200, 200],
    );
    assert.ok(beats.every((b) => b.samples[186] > 0));
    assert.ok(
      beats.every((b) => b.rPeakOffset === 0),
      'Kachuee beats start at the R-peak',
    );
  });

  it('normalises the last, partial window over the last 10 s of the segment, and drops nothing', () => {
    const peaks = [100, 600, 1100, 1600, 2100, 2600, 3100];
    const { beats } = run(3200, peaks, 64);
    assert.deepEqual(
      beats.map((b) => b.rPeakIndex),
      peaks,
    );
    const last = beats[beats.length - 1];
    assert.equal(last.windowStart, 3200 - 1250);
    assert.equal(last.rrSamples, 500);
    // Past the segment end: zeros (never stitched to anything).
    assert.ok(last.samples.slice(100).every((v) => v === 0));
  });

  it('centred form: the R-peak is sample floor(187 / 2), zero-padded before the segment start', () => {
    const { beats } = run(2000, [1040, 1700], 100, { form: 'centred' }, 1000);
    assert.equal(beats.length, 2);
    const first = beats[0];
    for (let i = 0; i < 93 - 40; i++) assert.equal(first.samples[i], 0);
    assert.ok(Math.abs(first.samples[93] - 40 / 1249) < 1e-6);
    assert.deepEqual(
      beats.map((b) => b.rPeakOffset),
      [93, 93],
      'where the R-peak lies in the beat (for the template comparison)',
    );
  });

  it('counts R-peaks outside the segment as dropped; is independent of chunking', () => {
    const { beats, seg } = run(1000, [-5, 500, 1200], 100);
    assert.deepEqual(
      beats.map((b) => b.rPeakIndex),
      [500],
    );
    assert.equal(seg.dropped, 2);
    const peaks = Array.from({ length: 40 }, (_, k) => 37 + 91 * k);
    const a = run(3700, peaks, 1).beats;
    const b = run(3700, peaks, 777).beats;
    assert.deepEqual(
      b.map((x) => [x.rPeakIndex, Array.from(x.samples)]),
      a.map((x) => [x.rPeakIndex, Array.from(x.samples)]),
    );
  });

  it('gives each beat the next R-peak it already holds: within the look-ahead, independent of chunking', () => {
    // Window 1250 samples, look-ahead 187: the window's last beat (1200) sees a successor before 1437 only.
    for (const [successor, expected] of [
      [1400, 1400],
      [1450, undefined],
    ] as const) {
      const peaks = [100, 1200, successor, 2000];
      const results = [1, 97, 125, 5000].map((chunk) => run(3000, peaks, chunk).beats);
      for (const beats of results) {
        assert.deepEqual(
          beats.map((b) => b.nextRPeakIndex),
          [1200, expected, 2000, undefined],
          `successor ${successor}`,
        );
      }
    }
  });
});
