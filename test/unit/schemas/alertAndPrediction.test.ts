import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Codec, getCodecs, parseSchema } from '../../../src/schemas/codec';
import type { AlertV1, BeatV1, PredictionV1 } from '../../../src/schemas/types';
import { projectRoot } from '../../../src/util/projectRoot';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
const schema = (file: string) =>
  JSON.parse(fs.readFileSync(path.join(projectRoot(), 'schemas', file), 'utf8')) as {
    fields: { name: string; type: unknown }[];
  };

describe('alert and prediction schemas', () => {
  it('round-trip an alert', () => {
    const alert: AlertV1 = {
      alertId: 'P-1:VENTRICULAR_TACHYCARDIA:720',
      sourceId: 'P-1',
      kind: 'VENTRICULAR_TACHYCARDIA',
      onsetSampleIndex: 720,
      onsetTimeMs: 1_800_000_002_000,
      detectedTimeMs: 1_800_000_003_000,
      heartRateBpm: 120,
      pauseSeconds: null,
      beats: [{ rPeakSampleIndex: 720, rPeakTimeMs: 1_800_000_002_000, predictedClass: 'V' }],
      modelVersion: 'adaptive-d26-e3-s1',
      raisedTimeMs: 1_800_000_010_000,
    };
    assert.deepEqual(plain(getCodecs().Alert.decode(getCodecs().Alert.encode(alert))), alert);
  });

  it('read an alert kind added by a later writer as UNKNOWN (the enum default)', () => {
    const newer = schema('alert.avsc');
    const kind = newer.fields.find((f) => f.name === 'kind') as { type: { symbols: string[] } };
    kind.type.symbols = [...kind.type.symbols, 'VENTRICULAR_FIBRILLATION'];
    const writer = parseSchema(newer);
    const reader = new Codec<AlertV1>('Alert', getCodecs().Alert.type, [writer]);
    const bytes = new Codec<AlertV1>('Alert', writer).encode({
      alertId: 'x',
      sourceId: 'x',
      kind: 'VENTRICULAR_FIBRILLATION' as AlertV1['kind'],
      onsetSampleIndex: 0,
      onsetTimeMs: 0,
      detectedTimeMs: 0,
      heartRateBpm: null,
      pauseSeconds: null,
      beats: [],
      modelVersion: null,
      raisedTimeMs: 0,
    });
    assert.equal(reader.decode(bytes).kind, 'UNKNOWN');
  });

  it('read predictions written with v1 (no lookAheadSeconds) as null', () => {
    const v1 = parseSchema(
      JSON.parse(
        fs.readFileSync(path.join(projectRoot(), 'schemas', 'history', 'prediction.v1.avsc'), 'utf8'),
      ),
    );
    const p: Omit<PredictionV1, 'lookAheadSeconds'> = {
      sourceId: '100',
      dedupKey: '100:77',
      rPeakSampleIndex: 77,
      rPeakTimeMs: 5,
      predictedClass: 'N',
      classes: ['N', 'S', 'V', 'F', 'Q'],
      probabilities: [1, 0, 0, 0, 0],
      modelVersion: 'm',
      publishedTimeMs: 6,
      latencySeconds: 0.1,
    };
    const decoded = getCodecs().Prediction.decode(new Codec('Prediction', v1).encode(p));
    assert.deepEqual(plain(decoded), { ...p, lookAheadSeconds: null });
  });
});

describe('beat schema evolution', () => {
  it('reads beats written with v1 (no RR intervals, no morphology) with both null', () => {
    const v1 = parseSchema(
      JSON.parse(fs.readFileSync(path.join(projectRoot(), 'schemas', 'history', 'beat.v1.avsc'), 'utf8')),
    );
    const beat: Omit<BeatV1, 'rr' | 'morphology'> = {
      sourceId: '100',
      rPeakSampleIndex: 77,
      rPeakTimeMs: 214,
      sourceSampleRateHz: 360,
      beatSampleRateHz: 125,
      samples: [0, 0.5, 1],
      segmentation: 'ANNOTATION',
      symbol: 'A',
      aamiClass: 'S',
      split: 'train',
      sequenceNumber: 3,
    };
    const decoded = getCodecs().Beat.decode(new Codec('Beat', v1).encode(beat));
    assert.deepEqual(plain(decoded), { ...beat, rr: null, morphology: null });
  });

  it('reads beats written with v2 (morphology without the QRS comparison) with the QRS fields null', () => {
    const v2 = parseSchema(
      JSON.parse(fs.readFileSync(path.join(projectRoot(), 'schemas', 'history', 'beat.v2.avsc'), 'utf8')),
    );
    const beat = {
      sourceId: '111',
      rPeakSampleIndex: 360,
      rPeakTimeMs: 1000,
      sourceSampleRateHz: 360,
      beatSampleRateHz: 125,
      samples: [0, 0.5, 1],
      segmentation: 'ANNOTATION' as const,
      symbol: 'L',
      aamiClass: 'N',
      split: 'test',
      sequenceNumber: 1,
      rr: { preSeconds: 0.8, postSeconds: 0.81, localMeanSeconds: 0.8, longMeanSeconds: 0.79 },
      morphology: { templateCorrelation: 0.93, relativeRmsDifference: 0.31 },
    };
    const decoded = getCodecs().Beat.decode(new Codec('Beat', v2).encode(beat));
    assert.deepEqual(plain(decoded), {
      ...beat,
      morphology: {
        ...beat.morphology,
        qrsCorrelation: null,
        qrsWidthSeconds: null,
        templateQrsWidthSeconds: null,
        pWaveCorrelation: null,
        pWaveRelativeRmsDifference: null,
      },
    });
  });

  it('reads beats written with v3 (morphology without the P-wave comparison) with the P-wave fields null', () => {
    const v3 = parseSchema(
      JSON.parse(fs.readFileSync(path.join(projectRoot(), 'schemas', 'history', 'beat.v3.avsc'), 'utf8')),
    );
    const morphology = {
      templateCorrelation: 0.93,
      relativeRmsDifference: 0.31,
      qrsCorrelation: 0.97,
      qrsWidthSeconds: 0.08,
      templateQrsWidthSeconds: 0.088,
    };
    const beat = {
      sourceId: '233',
      rPeakSampleIndex: 720,
      rPeakTimeMs: 2000,
      sourceSampleRateHz: 360,
      beatSampleRateHz: 125,
      samples: [0, 0.5, 1],
      segmentation: 'DETECTOR' as const,
      symbol: null,
      aamiClass: null,
      split: null,
      sequenceNumber: 2,
      rr: { preSeconds: 0.6, postSeconds: 1.0, localMeanSeconds: 0.8, longMeanSeconds: 0.8 },
      morphology,
    };
    const decoded = getCodecs().Beat.decode(new Codec('Beat', v3).encode(beat));
    assert.deepEqual(plain(decoded), {
      ...beat,
      morphology: { ...morphology, pWaveCorrelation: null, pWaveRelativeRmsDifference: null },
    });
  });
});
