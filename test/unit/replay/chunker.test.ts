import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkRecording, chunkSamplesFor, type RecordedLead } from '../../../src/replay/chunker';
import { StreamCheck } from '../../../src/replay/streamCheck';

const recording = (n: number, annotationSamples: number[]): RecordedLead => ({
  sourceId: 'r1',
  lead: 'II',
  sampleRateHz: 250,
  gainAduPerMv: 1000,
  baselineAdu: 0,
  samples: Int16Array.from({ length: n }, (_, i) => i - 500),
  annotations: annotationSamples.map((s) => ({ sampleIndex: s, symbol: 'N', aux: null })),
});

describe('chunkRecording', () => {
  it('covers every sample once, in order, with consecutive sequence numbers', () => {
    const chunks = [...chunkRecording(recording(1001, []), chunkSamplesFor(250, 1))];
    assert.equal(chunks.length, 5);
    assert.deepEqual(
      chunks.map((c) => c.sequenceNumber),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      chunks.map((c) => c.firstSampleIndex),
      [0, 250, 500, 750, 1000],
    );
    assert.deepEqual(
      chunks.flatMap((c) => c.samples),
      Array.from({ length: 1001 }, (_, i) => i - 500),
    );
    assert.deepEqual(
      chunks.map((c) => c.endOfStream),
      [false, false, false, false, true],
    );
  });

  it('attaches each annotation to the chunk containing its sample, exactly once', () => {
    const chunks = [...chunkRecording(recording(600, [0, 249, 250, 599, 700]), 250)];
    assert.deepEqual(
      chunks.map((c) => c.annotations.map((a) => a.sampleIndex)),
      [[0, 249], [250], [599, 700]],
    );
  });

  it('rounds chunk sizes for any sampling rate', () => {
    assert.equal(chunkSamplesFor(360, 1), 360);
    assert.equal(chunkSamplesFor(128, 0.5), 64);
    assert.equal(chunkSamplesFor(1, 0.1), 1);
  });
});

describe('StreamCheck', () => {
  it('counts gaps, duplicates and samples per source', () => {
    const check = new StreamCheck();
    const c = (seq: number, end = false) => ({
      sourceId: 'a',
      sequenceNumber: seq,
      samples: [1, 2],
      endOfStream: end,
    });
    assert.equal(check.add(c(0)), 'new');
    assert.equal(check.add(c(1)), 'new');
    assert.equal(check.add(c(1)), 'duplicate');
    assert.equal(check.add(c(4)), 'gap');
    assert.equal(check.add(c(5, true)), 'new');
    assert.deepEqual(check.summary(), {
      sources: 1,
      chunks: 4,
      samples: 8,
      duplicates: 1,
      gaps: 1,
      missingChunks: 2,
      ended: 1,
    });
  });
});
