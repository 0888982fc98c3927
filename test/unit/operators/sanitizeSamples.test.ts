import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { sanitizeSamples } from '../../../operators/sanitizeSamples';
import type { SampleChunkLike, SignalBlock, SignalEvent } from '../../../operators/types';

function chunk(
  seq: number,
  first: number,
  samples: number[],
  extra: Partial<SampleChunkLike> = {},
): SampleChunkLike {
  return {
    sourceId: 'p1',
    sampleRateHz: 100,
    firstSampleIndex: first,
    sequenceNumber: seq,
    acquisitionTimeMs: 1_000_000 + first * 10,
    gainAduPerMv: 200,
    baselineAdu: 1000,
    samples,
    annotations: [],
    endOfStream: false,
    ...extra,
  };
}

/** A wiggling signal (never flat), digital units around the baseline. */
const wiggle = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => 1000 + Math.round(100 * Math.sin((i + offset) / 3)));

async function run(
  chunks: SampleChunkLike[],
  options = {},
): Promise<{ blocks: SignalBlock[]; events: SignalEvent[] }> {
  const events: SignalEvent[] = [];
  const blocks = await lastValueFrom(
    from(chunks).pipe(sanitizeSamples({ ...options, events: { next: (e) => events.push(e) } }), toArray()),
  );
  return { blocks, events };
}

/** Check the block invariants: contiguity within segments, segment flags paired. */
function assertWellFormed(blocks: SignalBlock[]): void {
  let open = false;
  let next = -1;
  for (const b of blocks) {
    if (!open)
      assert.ok(
        b.segmentStart || b.samples.length === 0,
        `block at ${b.firstSampleIndex} should start a segment`,
      );
    else assert.equal(b.firstSampleIndex, next, 'contiguous within a segment');
    if (b.samples.length > 0) open = true;
    next = b.firstSampleIndex + b.samples.length;
    if (b.segmentEnd) open = false;
  }
}

describe('sanitizeSamples', () => {
  it('converts to millivolts and keeps a clean stream in one segment', async () => {
    const { blocks, events } = await run([
      chunk(0, 0, wiggle(100)),
      chunk(1, 100, wiggle(100, 100), { endOfStream: true }),
    ]);
    assert.deepEqual(events, []);
    assert.equal(blocks.length, 2);
    assert.equal(blocks[0].samples[0], (wiggle(1)[0] - 1000) / 200);
    assert.deepEqual(
      [
        blocks[0].segmentStart,
        blocks[0].segmentEnd,
        blocks[1].segmentStart,
        blocks[1].segmentEnd,
        blocks[1].endOfStream,
      ],
      [true, false, false, true, true],
    );
    assert.equal(blocks[0].originTimeMs, 1_000_000);
  });

  it('cuts out NaN and infinite samples, a flat line and saturation; reports each span once', async () => {
    const bad = wiggle(300);
    bad[50] = Number.NaN;
    bad[51] = Number.POSITIVE_INFINITY;
    for (let i = 100; i < 200; i++) bad[i] = 1000; // flat for 1 s (limit 0.5 s), mid-range (not clipping)
    const { blocks, events } = await run([
      chunk(0, 0, bad.slice(0, 150)),
      chunk(1, 150, bad.slice(150), { endOfStream: true }),
    ]);
    assert.deepEqual(
      events.map((e) => [e.kind, e.firstSampleIndex, e.sampleCount]),
      [
        ['non-finite', 50, 2],
        ['flat-line', 150, 50], // the first 50 samples of the run (0.5 s) pass
      ],
    );
    assertWellFormed(blocks);
    for (const b of blocks) for (const v of b.samples) assert.ok(Number.isFinite(v));
    const sat = wiggle(200);
    for (let i = 80; i < 120; i++) sat[i] = 2047; // clipped at the top for 0.4 s
    const saturated = await run([chunk(0, 0, sat, { endOfStream: true })], { adcRange: [0, 2047] });
    assert.deepEqual(
      saturated.events.map((e) => [e.kind, e.firstSampleIndex, e.sampleCount]),
      [['saturation', 88, 32]],
    );
    // Without the ADC range, clipping is recognised at the running extreme.
    const inferred = await run([chunk(0, 0, sat, { endOfStream: true })]);
    assert.deepEqual(
      inferred.events.map((e) => e.kind),
      ['saturation'],
    );
  });

  it('drops duplicates, trims overlaps, and ends the segment at gaps', async () => {
    const { blocks, events } = await run([
      chunk(0, 0, wiggle(100)),
      chunk(0, 0, wiggle(100)), // redelivered
      chunk(1, 90, wiggle(110, 90)), // overlaps by 10
      chunk(3, 300, wiggle(100, 300), { endOfStream: true }), // chunk 2 (200..299) lost
    ]);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['duplicate-chunk', 'sample-overlap', 'sequence-gap', 'sample-gap'],
    );
    assertWellFormed(blocks);
    const withSamples = blocks.filter((b) => b.samples.length > 0);
    assert.deepEqual(
      withSamples.map((b) => [b.firstSampleIndex, b.samples.length, b.segmentStart]),
      [
        [0, 100, true],
        [100, 100, false],
        [300, 100, true],
      ],
    );
  });

  it('starts a new segment at a sampling-rate change, and skips invalid chunks', async () => {
    const { blocks, events } = await run([
      chunk(0, 0, wiggle(100)),
      chunk(1, 100, wiggle(100), { gainAduPerMv: 0 }),
      chunk(2, 200, wiggle(250), { sampleRateHz: 250, endOfStream: true }),
    ]);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['invalid-chunk', 'sample-rate-change'],
    );
    assertWellFormed(blocks);
    const last = blocks[blocks.length - 1];
    assert.deepEqual([last.sampleRateHz, last.segmentStart, last.endOfStream], [250, true, true]);
  });

  it('keeps annotations with their samples and drops those inside skipped spans', async () => {
    const samples = wiggle(200);
    for (let i = 100; i < 200; i++) samples[i] = Number.NaN;
    const annotations = [10, 120, 150].map((sampleIndex) => ({ sampleIndex, symbol: 'N', aux: null }));
    const { blocks, events } = await run([chunk(0, 0, samples, { annotations, endOfStream: true })]);
    assert.deepEqual(
      blocks.flatMap((b) => b.marks.map((m) => m.sampleIndex)),
      [10],
    );
    assert.match(events[0].detail, /2 annotations/);
  });

  it('notes a stream joined midway (e.g. after a restart from committed offsets)', async () => {
    const { events } = await run([chunk(7, 700, wiggle(100), { endOfStream: true })]);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['late-join'],
    );
  });
});
