import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageDecodeError } from '../../../src/errors';
import { Codec, getCodecs, parseSchema } from '../../../src/schemas/codec';
import { rabinFingerprint } from '../../../src/schemas/fingerprint';
import type { SampleChunkV1 } from '../../../src/schemas/types';

/** avsc decodes records as class instances; compare data, not prototypes. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const chunk: SampleChunkV1 = {
  sourceId: '100',
  lead: 'MLII',
  sampleRateHz: 360,
  firstSampleIndex: 720,
  acquisitionTimeMs: 1_790_000_000_123,
  sequenceNumber: 2,
  gainAduPerMv: 200,
  baselineAdu: 1024,
  samples: [995, 1011, -2048, 2047],
  annotations: [{ sampleIndex: 730, symbol: 'N', aux: null }],
  endOfStream: false,
};

describe('CRC-64-AVRO fingerprint', () => {
  it('matches vectors from an independent implementation (Python avro 1.12)', () => {
    assert.equal(rabinFingerprint('"int"').toString('hex'), '8f5c393f1ad57572');
    assert.equal(rabinFingerprint('"null"').toString('hex'), '8a8f25cce724dd63');
    assert.equal(
      rabinFingerprint('{"name":"ecgflow.X","type":"record","fields":[{"name":"a","type":"int"}]}').toString(
        'hex',
      ),
      '45fc0fca24636e99',
    );
  });
});

describe('message codecs', () => {
  it('round-trips every message type with the single-object header', () => {
    const codecs = getCodecs();
    const encoded = codecs.SampleChunk.encode(chunk);
    assert.deepEqual([encoded[0], encoded[1]], [0xc3, 0x01]);
    assert.deepEqual(plain(codecs.SampleChunk.decode(encoded)), chunk);

    const event = {
      runId: 'run-1',
      timeMs: 5,
      event: {
        'ecgflow.Growth': {
          epoch: 33,
          trigger: 'FORCED' as const,
          smoothedLipschitz: 2.5,
          ratio: 1.2,
          depthBefore: 20,
          depthAfter: 38,
          parametersBefore: 272_474,
          parametersAfter: 564_122,
        },
      },
    };
    assert.deepEqual(plain(codecs.TrainingEvent.decode(codecs.TrainingEvent.encode(event))), event);

    const beat = {
      sourceId: '100',
      rPeakSampleIndex: 370,
      rPeakTimeMs: 1,
      sourceSampleRateHz: 360,
      beatSampleRateHz: 125,
      samples: [0, 0.5, 1],
      segmentation: 'ANNOTATION' as const,
      symbol: 'N',
      aamiClass: 'N',
      split: 'train',
      sequenceNumber: 0,
      rr: { preSeconds: 0.81, postSeconds: null, localMeanSeconds: 0.8, longMeanSeconds: 0.79 },
      morphology: {
        templateCorrelation: 0.97,
        relativeRmsDifference: 0.2,
        qrsCorrelation: 0.99,
        qrsWidthSeconds: 0.088,
        templateQrsWidthSeconds: 0.08,
        pWaveCorrelation: 0.91,
        pWaveRelativeRmsDifference: 0.4,
      },
    };
    assert.deepEqual(plain(codecs.Beat.decode(codecs.Beat.encode(beat))), beat);
  });

  it('refuses values that do not match the schema', () => {
    assert.throws(() => getCodecs().SampleChunk.encode({ ...chunk, samples: ['x' as unknown as number] }));
  });

  it('names topic, partition and offset when a message is not Avro', () => {
    assert.throws(
      () =>
        getCodecs().SampleChunk.decode(Buffer.from('{"json":true}'), {
          source: 'ecg.samples',
          partition: 3,
          offset: '42',
        }),
      (err: unknown) =>
        err instanceof MessageDecodeError &&
        /ecg\.samples, partition 3, offset 42/.test(err.message) &&
        /C3 01/.test(err.message),
    );
  });

  it('rejects a truncated body and an unknown writer schema with MessageDecodeError', () => {
    const codec = getCodecs().SampleChunk;
    const encoded = codec.encode(chunk);
    assert.throws(() => codec.decode(encoded.subarray(0, encoded.length - 3)), MessageDecodeError);
    const foreign = Buffer.from(encoded);
    foreign.writeUInt32LE(0xdeadbeef, 2);
    assert.throws(() => codec.decode(foreign), /unknown SampleChunk writer schema/);
  });
});

describe('schema evolution', () => {
  const current = getCodecs().SampleChunk.type;
  const v2Schema = JSON.parse(JSON.stringify(current.schema())) as { fields: unknown[] };
  v2Schema.fields.push({ name: 'deviceId', type: ['null', 'string'], default: null });
  v2Schema.fields.push({ name: 'qualityScore', type: 'double', default: 1 });
  const v2 = parseSchema(v2Schema);

  it('a newer reader with added defaulted fields reads data written with the current schema', () => {
    const newReader = new Codec<SampleChunkV1 & { deviceId: string | null; qualityScore: number }>(
      'SampleChunk',
      v2,
      [current],
    );
    const decoded = newReader.decode(getCodecs().SampleChunk.encode(chunk));
    assert.equal(decoded.deviceId, null);
    assert.equal(decoded.qualityScore, 1);
    assert.deepEqual(decoded.samples, chunk.samples);
  });

  it('the current reader reads data from a newer writer that added fields (forward compatibility)', () => {
    const newWriter = new Codec('SampleChunk', v2);
    const oldReader = new Codec<SampleChunkV1>('SampleChunk', current, [v2]);
    const decoded = oldReader.decode(newWriter.encode({ ...chunk, deviceId: 'bed-7', qualityScore: 0.5 }));
    assert.deepEqual(plain(decoded), chunk);
  });

  it('adding a field without a default is not readable from old data, and says so', () => {
    const bad = JSON.parse(JSON.stringify(current.schema())) as { fields: unknown[] };
    bad.fields.push({ name: 'mandatory', type: 'string' });
    assert.throws(() =>
      new Codec('SampleChunk', parseSchema(bad), [current]).decode(getCodecs().SampleChunk.encode(chunk)),
    );
  });
});
