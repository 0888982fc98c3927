import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitOf } from '../../../pipelines/beatExamples';
import { ExampleEncoder, ExampleSet, packBatch } from '../../../src/trainer/examples';

const beat = (aamiClass: string, pre: number) => ({
  samples: Float32Array.from({ length: 187 }, (_, i) => Math.exp(-(((i - 10) / 4) ** 2))),
  aamiClass,
  rr: { preSeconds: pre, postSeconds: 1, localMeanSeconds: 0.8, longMeanSeconds: 0.8 },
  morphology: {
    templateCorrelation: 0.5,
    relativeRmsDifference: 1,
    qrsCorrelation: 0.5,
    qrsWidthSeconds: 0.15,
    templateQrsWidthSeconds: 0.1,
    pWaveCorrelation: 0.9,
    pWaveRelativeRmsDifference: 0.3,
  },
});

describe('examples with scalar features', () => {
  it('encodes, stores and packs features beside the images, row by row', () => {
    const encoder = new ExampleEncoder(187, {}, undefined, 'rr-morphology');
    assert.equal(encoder.featureCount, 7);
    const a = encoder.encode(beat('N', 0.8));
    const b = encoder.encode(beat('S', 0.4));
    assert.ok(a !== undefined && b !== undefined);
    const set = new ExampleSet(encoder.imageSize, encoder.featureCount, 1); // grows from capacity 1
    set.add(a);
    set.add(b);
    assert.equal(set.count, 2);
    assert.deepEqual(Array.from(set.features.subarray(7, 14)), Array.from(b.features));
    assert.deepEqual(Array.from(set.labels), [0, 1]);
    const batch = packBatch([b, a], encoder.imageSize, encoder.featureCount);
    assert.deepEqual(Array.from(batch.features?.subarray(0, 7) ?? []), Array.from(b.features));
    assert.ok(Math.abs((batch.features?.[0] ?? 0) - (0.4 / 0.8 - 1)) < 1e-6, 'pre/long of the S beat');
    assert.throws(() => new ExampleSet(encoder.imageSize, 5).add(a), RangeError);
  });

  it("keeps each example's source tag through growth, numbered in order of first appearance", () => {
    const encoder = new ExampleEncoder(187);
    const e = encoder.encode(beat('N', 0.8));
    assert.ok(e !== undefined);
    const set = new ExampleSet(encoder.imageSize, 0, 1);
    ['213', '105', '213', '213', '105', '232'].forEach((source, i) => set.add(e, source, 1000 * i));
    assert.deepEqual(set.sourceNames, ['213', '105', '232']);
    assert.deepEqual(Array.from(set.sources), [0, 1, 0, 0, 1, 2]);
    assert.deepEqual(Array.from(set.positions), [0, 1000, 2000, 3000, 4000, 5000]);
    set.add(e);
    assert.equal(set.positions[6], -1, 'untagged');
  });

  it('image-only encoders produce no features', () => {
    const encoder = new ExampleEncoder(187);
    const e = encoder.encode(beat('V', 0.5));
    assert.equal(e?.features.length, 0);
    assert.equal(packBatch(e ? [e] : [], encoder.imageSize).features, undefined);
  });
});

describe('patient-wise validation', () => {
  it("moves held-out sources' training beats to validation and leaves the rest alone", () => {
    const log = { heldOut: new Set(['118']) };
    assert.equal(splitOf(log, { sourceId: '118', split: 'train' }), 'validation');
    assert.equal(splitOf(log, { sourceId: '118', split: 'test' }), 'test');
    assert.equal(splitOf(log, { sourceId: '101', split: 'train' }), 'train');
    assert.equal(splitOf(log, { sourceId: '101', split: null }), null);
  });
});
