/**
 * The serve engine with a stand-in operator chain (one beat per chunk, so every count is exact), a
 * controllable clock and a producer whose sends can be held: the ack discipline (a batch's handler
 * resolves only once its predictions are acknowledged), micro-batches bounded by size and by time,
 * model swaps only between micro-batches (a failed load leaves the last good model serving), and the
 * re-reading of history for a source met mid-stream.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EMPTY, mergeMap, of, type OperatorFunction } from 'rxjs';
import { rhythmAlerts } from '../../../operators/rhythmAlerts';
import type { BeatSpectrogram, SampleChunkLike } from '../../../operators/types';
import type { DecodedMessage } from '../../../src/bus/deadLetter';
import { BatchingSink } from '../../../src/bus/sink';
import { Metrics } from '../../../src/metrics/registry';
import { resnetConfig } from '../../../src/model/config';
import { loadResNet, saveResNet } from '../../../src/model/io';
import { predictLogits } from '../../../src/model/forward';
import * as tf from '@tensorflow/tfjs';
import { beatFeatures, LEGACY_RR_RATIO_MAX, RR_RATIO_MAX } from '../../../src/trainer/beatFeatures';
import { ResNet } from '../../../src/model/resnet';
import { getCodecs } from '../../../src/schemas/codec';
import type { BeatRrIntervals, PredictionV1, SampleChunkV1 } from '../../../src/schemas/types';
import {
  ServeEngine,
  type PredictionInfo,
  type ServeEngineConfig,
  type ServeEngineDeps,
} from '../../../src/serving/engine';
import {
  loadServingModel,
  ModelManager,
  versionOfModelDir,
  weightsVersionOfModelDir,
} from '../../../src/serving/modelManager';
import type { HistoryRequest, SampleHistory } from '../../../src/serving/sampleHistory';
import { loadTf } from '../../../src/tf/backend';
import { RecordingProducer as BaseRecordingProducer } from '../../helpers/recordingProducer';

const EXPECTED = { inputShape: [17, 39, 1] as const, classes: ['N', 'S', 'V', 'F', 'Q'] as const };
let dir: string;
let modelA: string;
let modelB: string;
/** Same architecture as A and B, trained on centred, filtered beats. */
let modelCentred: string;

before(async () => {
  await loadTf();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-engine-'));
  modelA = path.join(dir, 'a');
  modelB = path.join(dir, 'b');
  for (const [out, seed] of [
    [modelA, 1],
    [modelB, 2],
  ] as const) {
    const m = ResNet.create(resnetConfig({ depth: 8 }), { seed });
    await saveResNet(m, out);
    m.dispose();
  }
  modelCentred = path.join(dir, 'centred');
  const c = ResNet.create(
    resnetConfig({ depth: 8, beats: { form: 'centred', filter: true, beatRateHz: 125 } }),
    { seed: 3 },
  );
  await saveResNet(c, modelCentred);
  c.dispose();
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The recording producer, with the predictions it was sent decoded. */
class RecordingProducer extends BaseRecordingProducer {
  predictions(): PredictionV1[] {
    return this.sent
      .filter((s) => s.topic === 'predictions')
      .map((s) => getCodecs().Prediction.decode(s.message.value));
  }
}

const chunk = (sourceId: string, sequenceNumber: number, endOfStream = false): SampleChunkV1 => ({
  sourceId,
  lead: 'II',
  sampleRateHz: 360,
  firstSampleIndex: sequenceNumber * 360,
  acquisitionTimeMs: 1_000_000 + sequenceNumber * 1000,
  sequenceNumber,
  gainAduPerMv: 1000,
  baselineAdu: 0,
  samples: endOfStream ? [] : new Array<number>(360).fill(0),
  annotations: [],
  endOfStream,
});

const decoded = (chunks: SampleChunkV1[], firstOffset = 0): DecodedMessage<SampleChunkV1>[] =>
  chunks.map((value, i) => ({
    value,
    message: {
      topic: 'samples',
      partition: 0,
      offset: String(firstOffset + i),
      key: value.sourceId,
      value: Buffer.alloc(0),
      timestampMs: value.acquisitionTimeMs,
      headers: {},
    },
  }));

interface Harness {
  engine: ServeEngine;
  producer: RecordingProducer;
  models: ModelManager;
  clock: { t: number };
  infos: PredictionInfo[];
  /** The clock when each prediction was written. */
  times: number[];
  history: HistoryRequest[];
}

/** The stand-in chain: one beat per non-empty chunk, R-peak at the chunk's middle; `onChunk` runs first. */
function harness(
  config: Partial<ServeEngineConfig> = {},
  onChunk: (c: SampleChunkLike) => void = () => undefined,
  history?: SampleHistory,
  extra: Partial<ServeEngineDeps> = {},
  stand: { model?: string; rr?: BeatRrIntervals } = {},
): Harness {
  const producer = new RecordingProducer();
  const sink = new BatchingSink(producer, { lingerMs: 0 });
  const clock = { t: 0 };
  const infos: PredictionInfo[] = [];
  const times: number[] = [];
  const requests: HistoryRequest[] = [];
  const initial = stand.model ?? modelA;
  const models = new ModelManager(
    loadServingModel(initial, weightsVersionOfModelDir(initial), EXPECTED),
    EXPECTED,
    {},
    (fn) => fn(),
  );
  const chain = (): OperatorFunction<SampleChunkLike, BeatSpectrogram> =>
    mergeMap((c) => {
      onChunk(c);
      if (c.samples.length === 0) return EMPTY;
      const beat: BeatSpectrogram = {
        sourceId: c.sourceId,
        rPeakIndex: c.firstSampleIndex + 180,
        rPeakSourceIndex: c.firstSampleIndex + 180,
        rPeakTimeMs: c.acquisitionTimeMs + 500,
        sourceSampleRateHz: 360,
        beatSampleRateHz: 125,
        samples: new Float32Array(187),
        rr: stand.rr ?? { preSeconds: 0.8, postSeconds: 0.8, localMeanSeconds: 0.8, longMeanSeconds: 0.8 },
        morphology: {
          templateCorrelation: 1,
          relativeRmsDifference: 0,
          qrsCorrelation: 1,
          qrsWidthSeconds: 0.08,
          templateQrsWidthSeconds: 0.08,
          pWaveCorrelation: 1,
          pWaveRelativeRmsDifference: 0,
        },
        rrSamples: 100,
        origin: 'detector',
        symbol: null,
        beatClass: null,
        spectrogram: new Float32Array(17 * 39).fill((c.sequenceNumber % 7) / 7),
        bins: 17,
        frames: 39,
      };
      return of(beat);
    });
  const engine = new ServeEngine(
    {
      predictionsTopic: 'predictions',
      alertsTopic: 'alerts',
      maxBatchBeats: 256,
      maxWaitMs: 50,
      lookBackSeconds: 0,
      idleSourceSeconds: 0,
      ...config,
    },
    {
      chain,
      alerts: rhythmAlerts(),
      models,
      predictionsSink: sink,
      alertsSink: new BatchingSink(producer, { lingerMs: 0 }),
      metrics: new Metrics({ defaultMetrics: false }),
      history:
        history === undefined
          ? undefined
          : {
              fetch: (r) => {
                requests.push(r);
                return history.fetch(r);
              },
            },
      log: () => undefined,
      now: () => clock.t,
      onPrediction: (i) => {
        infos.push(i);
        times.push(clock.t);
      },
      ...extra,
    },
  );
  return { engine, producer, models, clock, infos, times, history: requests };
}

describe('serve engine', () => {
  it("resolves a batch's handler only once its predictions are acknowledged by the bus", async () => {
    const h = harness();
    h.producer.hold();
    let done = false;
    const handled = h.engine
      .handleBatch(decoded([chunk('p', 0), chunk('q', 0), chunk('p', 1)]))
      .then(() => (done = true));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(done, false, 'the handler waits for the sends');
    h.producer.release();
    await handled;
    const predictions = h.producer.predictions();
    assert.deepEqual(predictions.map((p) => p.dedupKey).sort(), ['p:180', 'p:540', 'q:180']);
    assert.ok(
      predictions.every((p) => p.modelVersion === versionOfModelDir(modelA) && p.probabilities.length === 5),
    );
    h.models.dispose();
  });

  it('closes a micro-batch when it is full, and when its oldest beat has waited maxWaitMs', async () => {
    const sized = harness({ maxBatchBeats: 4, maxWaitMs: 1e9 });
    await sized.engine.handleBatch(decoded(Array.from({ length: 10 }, (_, k) => chunk('p', k))));
    assert.equal(sized.engine.stats.microBatches, 3, '4 + 4 + 2');
    sized.models.dispose();

    // Each chunk takes 30 ms of the (virtual) clock: the first beat has waited 60 ms when the third
    // chunk is done, so the first three leave together, mid-batch; the fourth leaves at the batch's end.
    const timed = harness({ maxBatchBeats: 1000, maxWaitMs: 50 }, () => (timed.clock.t += 30));
    await timed.engine.handleBatch(decoded(Array.from({ length: 4 }, (_, k) => chunk('p', k))));
    assert.equal(timed.engine.stats.microBatches, 2);
    assert.deepEqual(timed.times, [90, 90, 90, 120]);
    timed.models.dispose();
  });

  it('swaps to a new model only between micro-batches; a model that fails to load leaves the last good one serving', async () => {
    let loadRequested = false;
    const h = harness({ maxBatchBeats: 2, maxWaitMs: 1e9 }, (c) => {
      // While the third chunk goes through the chain (in the middle of a micro-batch): a bad model, then a good one.
      if (c.sequenceNumber === 2 && !loadRequested) {
        loadRequested = true;
        h.models.requestLoad(path.join(dir, 'missing'), 'broken');
      }
    });
    await h.engine.handleBatch(decoded(Array.from({ length: 4 }, (_, k) => chunk('p', k))));
    await h.models.idle();
    assert.equal(h.models.failures.length, 1);
    assert.match(h.models.failures[0].reason, /config\.json/);
    h.models.requestLoad(modelB, weightsVersionOfModelDir(modelB));
    await h.models.idle();
    assert.equal(h.models.current.version, versionOfModelDir(modelA), 'loaded, not yet current');
    await h.engine.handleBatch(
      decoded(
        Array.from({ length: 4 }, (_, k) => chunk('p', k + 4)),
        4,
      ),
    );
    const versions = h.producer.predictions().map((p) => p.modelVersion);
    assert.deepEqual(versions, [
      ...new Array<string>(4).fill(versionOfModelDir(modelA)),
      ...new Array<string>(4).fill(versionOfModelDir(modelB)),
    ]);
    assert.equal(
      new Set(h.producer.predictions().map((p) => p.dedupKey)).size,
      8,
      'each beat classified once',
    );
    assert.equal(h.models.swaps, 1);
    h.models.dispose();
  });

  it('refuses to swap in a model trained on beats cut another way, and serves on', async () => {
    const h = harness({ maxBatchBeats: 2, maxWaitMs: 1e9 });
    h.models.requestLoad(modelCentred, 'centred-1');
    await h.models.idle();
    assert.equal(h.models.pending, undefined);
    assert.equal(h.models.failures.length, 1);
    assert.match(h.models.failures[0].reason, /centred, filtered, 125 Hz.*kachuee, unfiltered, 125 Hz/);
    await h.engine.handleBatch(decoded(Array.from({ length: 2 }, (_, k) => chunk('p', k))));
    assert.deepEqual(
      h.producer.predictions().map((p) => p.modelVersion),
      [versionOfModelDir(modelA), versionOfModelDir(modelA)],
    );
    h.models.dispose();
  });

  it("computes a feature model's RR features with the model's own cap (a model from before the cap: the legacy one)", async () => {
    // Same weights twice: one saved now, one with the config of a model saved before the cap existed.
    const current = path.join(dir, 'rr-current');
    const legacy = path.join(dir, 'rr-legacy');
    const m = ResNet.create(resnetConfig({ depth: 8, featureCount: 5 }), { seed: 4 });
    await saveResNet(m, current);
    await saveResNet(m, legacy);
    m.dispose();
    const file = path.join(legacy, 'config.json');
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
    delete saved.config.rrRatioMax;
    fs.writeFileSync(file, JSON.stringify(saved));
    // An early beat followed by a pause of 3 mean RRs: the two caps read it differently.
    const rr = { preSeconds: 0.6, postSeconds: 3, localMeanSeconds: 1, longMeanSeconds: 1 };
    const served = async (model: string) => {
      const h = harness({ maxBatchBeats: 1 }, undefined, undefined, {}, { model, rr });
      await h.engine.handleBatch(decoded([chunk('p', 3)]));
      h.models.dispose();
      return h.producer.predictions()[0].probabilities;
    };
    const offline = (model: string, cap: number) => {
      const net = loadResNet(model);
      const p = tf.tidy(() => {
        const x = tf.fill([1, 17, 39, 1], 3 / 7) as tf.Tensor4D;
        const f = tf.tensor2d(beatFeatures('rr', { rr, morphology: null }, cap), [1, 5]);
        return Array.from(tf.softmax(predictLogits(net, x, f)).dataSync());
      });
      net.dispose();
      return p;
    };
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) < 1e-5);
    const fromCurrent = await served(current);
    const fromLegacy = await served(legacy);
    assert.ok(close(fromCurrent, offline(current, RR_RATIO_MAX)), 'current model: current cap');
    assert.ok(close(fromLegacy, offline(legacy, LEGACY_RR_RATIO_MAX)), 'legacy model: legacy cap');
    assert.ok(!close(fromCurrent, fromLegacy), 'the caps must make a difference for this beat');
  });

  it('re-reads the history of a source met mid-stream and feeds it first', async () => {
    const earlier = [chunk('p', 48), chunk('p', 49)];
    const h = harness({ lookBackSeconds: 30 }, () => undefined, {
      fetch: async () => ({ chunks: new Map([['p', earlier]]), messagesRead: 2, complete: true }),
    });
    await h.engine.handleBatch(decoded([chunk('p', 50), chunk('q', 0)], 100));
    assert.equal(h.history.length, 1, 'one read for the batch');
    const request = h.history[0];
    assert.equal(request.beforeOffset, 100);
    assert.deepEqual(
      [...request.sources],
      [['p', { fromSampleIndex: 50 * 360 - 30 * 360, afterSequence: -1 }]],
      'q started at 0: not late',
    );
    assert.deepEqual(
      h.infos.map((i) => [i.prediction.dedupKey, i.recovered]),
      [
        ['p:17460', true],
        ['p:17820', true],
        ['p:18180', false],
        ['q:180', false],
      ],
    );
    // Chunks missing since the last one seen (sequence 50 -> 54) are re-read too.
    await h.engine.handleBatch(decoded([chunk('p', 54)], 200));
    assert.deepEqual(
      [...h.history[1].sources],
      [['p', { fromSampleIndex: 54 * 360 - 30 * 360, afterSequence: 50 }]],
    );
    h.models.dispose();
  });

  it('in a round of several partitions, re-reads each partition before its own first offset', async () => {
    const h = harness({ lookBackSeconds: 30 }, () => undefined, {
      fetch: async (r) => ({
        chunks: new Map([[r.partition === 0 ? 'p' : 'r', [chunk(r.partition === 0 ? 'p' : 'r', 9)]]]),
        messagesRead: 1,
        complete: true,
      }),
    });
    const onPartition = (partition: number, chunks: SampleChunkV1[], firstOffset: number) =>
      decoded(chunks, firstOffset).map((d) => ({ ...d, message: { ...d.message, partition } }));
    await h.engine.handleBatch([
      ...onPartition(0, [chunk('q', 0), chunk('p', 10)], 500),
      ...onPartition(1, [chunk('r', 10), chunk('s', 0)], 70),
    ]);
    assert.deepEqual(
      h.history.map((r) => [r.partition, r.beforeOffset, [...r.sources.keys()]]),
      [
        [0, 500, ['p']],
        [1, 70, ['r']],
      ],
    );
    assert.equal(h.engine.stats.rewinds, 2);
    assert.deepEqual(
      h.infos.filter((i) => i.recovered).map((i) => i.prediction.dedupKey),
      ['p:3420', 'r:3420'],
    );
    h.models.dispose();
  });

  it('reports predictions to onAcknowledged only once the bus has acknowledged them', async () => {
    const acknowledged: { keys: string[]; atMs: number }[] = [];
    const h = harness({}, () => undefined, undefined, {
      onAcknowledged: (infos, atMs) =>
        acknowledged.push({ keys: infos.map((i) => i.prediction.dedupKey), atMs }),
    });
    h.producer.hold();
    const handled = h.engine.handleBatch(decoded([chunk('p', 0), chunk('p', 1)]));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(acknowledged, [], 'written, not yet acknowledged');
    h.clock.t = 42;
    h.producer.release();
    await handled;
    assert.deepEqual(acknowledged, [{ keys: ['p:180', 'p:540'], atMs: 42 }]);
    h.models.dispose();
  });
});
