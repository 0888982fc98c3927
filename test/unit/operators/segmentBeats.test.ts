import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { resample } from '../../../operators/resample';
import { sanitizeSamples } from '../../../operators/sanitizeSamples';
import { segmentBeats } from '../../../operators/segmentBeats';
import type { SampleChunkLike, SegmentedBeat, SignalEvent } from '../../../operators/types';
import { chunkRecording } from '../../../src/replay/chunker';
import { loadRecording } from '../../../src/replay/loadRecording';
import { aamiClass, countBeats, isBeat } from '../../../src/wfdb/labels';
import { readAnnotations } from '../../../src/wfdb/record';
import { requireDataDir } from '../../helpers/env';

const dataDir = requireDataDir();

async function record100Chunks(chunkSamples = 360): Promise<SampleChunkLike[]> {
  const recording = await loadRecording(dataDir, '100', { lead: 'MLII', annotator: 'atr' });
  return [...chunkRecording(recording, chunkSamples)].map((c) => ({ ...c, acquisitionTimeMs: 0 }));
}

async function segment(chunks: SampleChunkLike[], events: SignalEvent[] = []): Promise<SegmentedBeat[]> {
  const sink = { next: (e: SignalEvent) => events.push(e) };
  return lastValueFrom(
    from(chunks).pipe(
      sanitizeSamples({ events: sink }),
      resample(125),
      segmentBeats({ rPeaks: 'reference', isBeat, classOf: aamiClass, events: sink }),
      toArray(),
    ),
  );
}

describe('segmentBeats on record 100 (annotation-driven, Kachuee form)', () => {
  it('cuts one 187-sample beat in [0, 1] per beat annotation, with its symbol and AAMI class', async () => {
    const beats = await segment(await record100Chunks());
    const reference = countBeats(await readAnnotations(dataDir, '100'));
    assert.equal(beats.length, reference.beats);
    const byClass: Record<string, number> = { N: 0, S: 0, V: 0, F: 0, Q: 0 };
    for (const b of beats) byClass[b.beatClass as string]++;
    for (const b of beats) assert.equal(b.beatClass, aamiClass(b.symbol as string));
    assert.deepEqual(byClass, reference.aami); // N 2239, S 33, V 1, F 0, Q 0
    for (const b of beats) {
      assert.equal(b.samples.length, 187);
      assert.equal(b.beatSampleRateHz, 125);
      for (const v of b.samples) assert.ok(v >= 0 && v <= 1);
    }
    // The R-peak sample is near the top of its window for this upright lead, as Kachuee's beats start.
    const starts = beats.map((b) => b.samples[0]).sort((a, b) => a - b);
    assert.ok(starts[Math.floor(starts.length / 2)] > 0.8);
    // Source positions are the annotations' own sample numbers at 360 Hz.
    const annotations = (await readAnnotations(dataDir, '100'))
      .filter((a) => isBeat(a.symbol))
      .map((a) => a.sample);
    assert.deepEqual(
      beats.map((b) => b.rPeakSourceIndex),
      annotations,
    );
  });

  it('never stitches a beat across a gap: the window restarts and beats end at the gap', async () => {
    const chunks = await record100Chunks();
    const lost = new Set([100, 101, 102]); // chunks 100-102 (samples 36,000-37,079) never arrive
    const events: SignalEvent[] = [];
    const beats = await segment(
      chunks.filter((c) => !lost.has(c.sequenceNumber)),
      events,
    );
    assert.deepEqual(
      events.map((e) => e.kind),
      ['sequence-gap', 'sample-gap'],
    );
    const gapStart = Math.ceil((36_000 * 125) / 360);
    const gapEnd = Math.ceil((37_080 * 125) / 360);
    for (const b of beats) {
      assert.ok(b.rPeakSourceIndex < 36_000 || b.rPeakSourceIndex >= 37_080, 'no beat from the lost span');
      if (b.rPeakIndex < gapStart && b.rPeakIndex + 187 > gapStart) {
        // Samples from the gap on are padding, not the signal after the gap.
        for (let i = gapStart - b.rPeakIndex; i < 187; i++)
          assert.equal(b.samples[i], 0, `beat at ${b.rPeakIndex}`);
      }
      assert.ok(!(b.rPeakIndex >= gapStart && b.rPeakIndex < gapEnd));
    }
    // RR intervals restart with the segment: none across the gap.
    const afterGap = beats.find((b) => b.rPeakSourceIndex >= 37_080) as SegmentedBeat;
    assert.equal(afterGap.rr.preSeconds, null);
    const beforeGap = beats.filter((b) => b.rPeakSourceIndex < 36_000).at(-1) as SegmentedBeat;
    assert.equal(beforeGap.rr.postSeconds, null);
  });

  it('carries RR intervals that match the reference R-peaks', async () => {
    const beats = await segment(await record100Chunks());
    const t = beats.map((b) => b.rPeakSourceIndex / 360);
    let withPost = 0;
    for (let i = 1; i < beats.length - 1; i++) {
      const rr = beats[i].rr;
      // Beat positions are rounded to the 125 Hz grid: one sample = 8 ms.
      assert.ok(Math.abs((rr.preSeconds as number) - (t[i] - t[i - 1])) <= 0.009, `pre of beat ${i}`);
      if (rr.postSeconds !== null) {
        withPost++;
        assert.ok(Math.abs(rr.postSeconds - (t[i + 1] - t[i])) <= 0.009, `post of beat ${i}`);
      }
      assert.ok(rr.localMeanSeconds > 0.5 && rr.localMeanSeconds < 1.3);
    }
    // Record 100 is ~75 bpm: the next R-peak is always within the 1.5 s look-ahead.
    assert.equal(withPost, beats.length - 2);
    assert.equal(beats[0].rr.preSeconds, null);
    // The A beats of record 100 come early: their pre-RR is clearly below the local mean.
    const early = beats.filter((b) => b.symbol === 'A');
    assert.ok(early.length > 20);
    const share = early.filter((b) => (b.rr.preSeconds as number) < 0.9 * b.rr.localMeanSeconds).length;
    assert.ok(share / early.length > 0.8, `only ${share} of ${early.length} A beats are premature`);
  });

  it('gives the same beats whatever the chunk size', async () => {
    const a = await segment(await record100Chunks(360));
    const b = await segment(await record100Chunks(97));
    assert.equal(b.length, a.length);
    for (let i = 0; i < a.length; i++) assert.deepEqual(b[i].rr, a[i].rr, `RR of beat ${i}`);
    for (let i = 0; i < a.length; i += 50) {
      assert.equal(b[i].rPeakIndex, a[i].rPeakIndex);
      assert.deepEqual(Array.from(b[i].samples), Array.from(a[i].samples));
    }
  });
});
