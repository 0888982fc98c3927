/**
 * Live classification end to end on the real broker:
 * - simulator -> MLLP gateway -> samples topic -> serve -> predictions topic, compared beat by beat with
 *   the offline, evaluate-style classification of the same model on the same record;
 * - a hot model swap in the middle of a stream: every beat classified once, by the model current at its
 *   micro-batch (checked against each model's offline classification), a model that fails to load
 *   reported while the last good one keeps serving;
 * - a serve instance killed with SIGKILL: the other instance of its consumer group takes its partitions
 *   over and no beat is lost.
 * A short training run on the beat stream provides the models (two versions: its first checkpoint and
 * its final model).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { serveChain, DEFAULT_SERVE_CHAIN } from '../../pipelines/serve';
import { startIngest } from '../../pipelines/ingest';
import { runReplay } from '../../pipelines/replay';
import type { BeatSpectrogram } from '../../operators/types';
import { KafkaBus } from '../../src/bus/kafkaBus';
import { readLog } from '../../src/bus/readLog';
import { BatchingSink } from '../../src/bus/sink';
import { topicNames, topicSpecs, type TopicNames } from '../../src/bus/topics';
import { serveConfigFrom, startServing } from '../../src/cli/serving';
import { trainOnce } from '../../src/cli/training';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';
import { DEFAULT_GATEWAY_CONFIG } from '../../src/ingest/gateway';
import { simulateMllp } from '../../src/ingest/simulator';
import { Metrics } from '../../src/metrics/registry';
import { readDecision, writeDecision } from '../../src/model/decision';
import { loadResNet } from '../../src/model/io';
import {
  applyPrematurityRule,
  bindPrematurityRule,
  PREMATURITY_RULE_DS1,
} from '../../src/scoring/prematurityRule';
import { chunkRecording, type RecordedLead } from '../../src/replay/chunker';
import { loadRecording } from '../../src/replay/loadRecording';
import { getCodecs } from '../../src/schemas/codec';
import type { PredictionV1, SampleChunkV1 } from '../../src/schemas/types';
import { DEFAULT_SERVE_ENGINE_CONFIG } from '../../src/serving/engine';
import { resolveModelDir, versionOfModelDir, weightsVersionOfModelDir } from '../../src/serving/modelManager';
import { OperatorAdapter } from '../../src/stream/operatorAdapter';
import { loadTf, resolveBackendPreference } from '../../src/tf/backend';
import { featureNamesOf, featureSetForCount, writeBeatFeatures } from '../../src/trainer/beatFeatures';
import { PAPER_TRAINING_CONFIG } from '../../src/trainer/config';
import { evaluateModel } from '../../src/trainer/evaluate';
import { beatLogOnBroker } from '../helpers/beatLog';
import { requireDataDir, uniquePrefix } from '../helpers/env';
import { scratchDir } from '../helpers/scratch';

const dataDir = requireDataDir();
const MAIN = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');
const IMAGE = 17 * 39;
let broker: LocalBroker;
let bus: KafkaBus;
const created: string[] = [];
let modelA: string; // the first checkpoint
let modelB: string; // the final model
/** The models' beats: centred and filtered, so that serve cutting beats its default way would disagree. */
const PREPARATION = { form: 'centred' as const, filter: true, beatRateHz: 125 };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const log =
  process.env.ECGFLOW_TEST_LOG === '1'
    ? (line: string) => process.stderr.write(`${line}\n`)
    : () => undefined;

/** The serve chain run offline over chunks (no bus): the beats serve would cut, with their spectrograms. */
function offlineBeats(chunks: Iterable<SampleChunkV1>): BeatSpectrogram[] {
  const adapter = new OperatorAdapter(serveChain(DEFAULT_SERVE_CHAIN, PREPARATION, undefined));
  return [...adapter.process(chunks), ...adapter.end()];
}

/**
 * Evaluate-style classification (src/trainer/evaluate.ts, batches of 100) of beats by a saved model, then
 * its decision rule if it has one (as `evaluate` applies it), unless `argMaxOnly`.
 */
function offlineClasses(
  modelDir: string,
  beats: readonly BeatSpectrogram[],
  argMaxOnly = false,
): Map<string, string> {
  const model = loadResNet(resolveModelDir(modelDir));
  try {
    const images = new Float32Array(beats.length * IMAGE);
    beats.forEach((b, i) => images.set(b.spectrogram, i * IMAGE));
    const f = model.featureCount;
    const features = new Float32Array(beats.length * f);
    const set = featureSetForCount(f);
    beats.forEach((b, i) => writeBeatFeatures(set, b, features, i * f, model.rrRatioMax));
    const { predictions } = evaluateModel(
      model,
      images,
      new Int32Array(beats.length),
      beats.length,
      100,
      features,
    );
    const classes = ['N', 'S', 'V', 'F', 'Q'];
    const decision = readDecision(resolveModelDir(modelDir));
    if (decision !== undefined && !argMaxOnly) {
      const { rule, inputs } = bindPrematurityRule(decision.prematurity, featureNamesOf(set), classes);
      applyPrematurityRule(rule, inputs, predictions, features, beats.length);
    }
    return new Map(beats.map((b, i) => [`${b.sourceId}:${b.rPeakSourceIndex}`, classes[predictions[i]]]));
  } finally {
    model.dispose();
  }
}

function recordChunks(rec: RecordedLead, seconds?: number): SampleChunkV1[] {
  const n = seconds === undefined ? rec.samples.length : Math.round(seconds * rec.sampleRateHz);
  const cut: RecordedLead = { ...rec, samples: rec.samples.subarray(0, n), annotations: [] };
  return [...chunkRecording(cut, Math.round(rec.sampleRateHz))].map((c) => ({
    ...c,
    acquisitionTimeMs: 0,
    endOfStream: seconds === undefined && c.endOfStream,
  }));
}

async function readPredictions(topics: TopicNames): Promise<PredictionV1[]> {
  const endOffsets = await bus.endOffsets(topics.predictions);
  const out: PredictionV1[] = [];
  // Ack each batch as it comes: the bus fetches a partition's next batch only after the ack.
  await lastValueFrom(
    readLog(bus, {
      topic: topics.predictions,
      groupId: `${topics.predictions}-read-${Date.now()}`,
      endOffsets,
    }).pipe(
      tap((b) => {
        for (const m of b.messages) out.push(getCodecs().Prediction.decode(m.value));
        b.ack();
      }),
      toArray(),
    ),
  );
  return out;
}

async function freshTopics(name: string): Promise<TopicNames> {
  const topics = topicNames(uniquePrefix(name));
  created.push(...Object.values(topics));
  await bus.ensureTopics(topicSpecs(topics));
  return topics;
}

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
  broker = await ensureBroker();
  bus = new KafkaBus({ brokers: broker.brokers, clientId: 'it-serve' });
  // Two model versions from a short vanilla run on the beat stream of two records.
  const log = await beatLogOnBroker(
    bus,
    { name: 'serve-train', brokers: broker.brokers, dataDir, records: ['119', '208'], beats: PREPARATION },
    created,
  );
  const out = scratchDir('ecgflow-serve-it-');
  await trainOnce(
    bus,
    {
      training: {
        ...PAPER_TRAINING_CONFIG,
        mode: 'vanilla',
        initialDepth: 8,
        finalDepth: 8,
        epochs: 2,
        window: 1,
        reserve: 0,
        lipschitzIterations: 2,
        batchSize: 64,
        // Beat-context features: live serving must compute them exactly as the offline chain does (MLLP
        // chunks differ from the offline 1 s chunks, so this also checks they do not depend on chunking).
        // The fullest set, so every field of the beat schema's morphology crosses Kafka.
        features: 'rr-morphology-qrs-p',
        // Not the default preparation: serve must take it from the model (the offline chain uses it too).
        beats: PREPARATION,
      },
      ...log.run,
      outDir: out,
      limitBeats: 1500,
      shuffleCapacity: 2000,
      resume: false,
    },
    await loadTf(),
    new Metrics({ defaultMetrics: false }),
  );
  modelA = path.join(out, 'checkpoints', 'epoch-0000');
  modelB = out;
  // The final model serves with the prematurity rule: live and offline must apply it alike.
  writeDecision(resolveModelDir(modelB), { prematurity: PREMATURITY_RULE_DS1 });
  assert.notEqual(versionOfModelDir(modelA), versionOfModelDir(modelB));
});

after(async () => {
  await bus?.deleteTopics(created).catch(() => undefined);
  await bus?.close();
  await broker?.stop();
});

describe('serve on the real broker', () => {
  it('simulator -> MLLP gateway -> samples -> serve -> predictions agrees with the offline classification', async (t) => {
    const topics = await freshTopics('serve-mllp');
    const metrics = new Metrics({ defaultMetrics: false });
    const seconds = 600;
    const samplesSink = new BatchingSink(await bus.producer(), { lingerMs: 1 });
    const deadLetterSink = new BatchingSink(await bus.producer());
    const ingest = await startIngest(
      {
        gateway: { ...DEFAULT_GATEWAY_CONFIG, samplesTopic: topics.samples },
        deadLetterTopic: topics.deadLetter,
        mllp: { host: '127.0.0.1', port: 0 },
      },
      samplesSink,
      deadLetterSink,
      metrics,
      log,
    );
    const serving = await startServing({
      bus,
      brokers: broker.brokers,
      topics,
      config: serveConfigFrom(
        { ...DEFAULT_SERVE_ENGINE_CONFIG, asystoleSeconds: 4, vtMinBeats: 3, vtMinRate: 100 },
        topics,
      ),
      modelDir: modelB,
      groupId: `${topics.samples}-serve`,
      fromBeginning: true,
      swapOn: 'none',
      metrics,
      log,
    });
    log('serve started');
    try {
      const sim = await simulateMllp(
        {
          host: '127.0.0.1',
          port: ingest.mllpPort,
          dataDir,
          records: ['100'],
          lead: 'MLII',
          speed: 'max',
          messageSeconds: 1,
          seconds,
          patientPrefix: '',
          ackTimeoutMs: 10_000,
        },
        log,
      );
      log(`simulated ${JSON.stringify(sim)}`);
      assert.deepEqual([sim.messages, sim.accepted, sim.refused], [seconds, seconds, 0]);
      assert.equal(ingest.gateway.stats.chunks, seconds);
      // Wait until serve has consumed every chunk, then stop it: it flushes what its state still holds.
      const deadline = Date.now() + 60_000;
      while (serving.run.engine.stats.chunks < seconds && Date.now() < deadline) await sleep(200);
      log(`serve consumed ${serving.run.engine.stats.chunks} chunks; stopping`);
      serving.run.stop();
      const summary = await serving.run.done;
      log(`serve stopped: ${JSON.stringify(summary)}`);
      assert.equal(summary.chunks, seconds);
    } finally {
      await serving.close();
      await ingest.close();
      await samplesSink.close();
      await deadLetterSink.close();
    }
    const live = await readPredictions(topics);
    const rec = await loadRecording(dataDir, '100', { lead: 'MLII', annotator: undefined });
    const beats = offlineBeats(recordChunks(rec, seconds));
    const offline = offlineClasses(modelB, beats);
    const byRule = [...offlineClasses(modelB, beats, true)].filter(([key, cls]) => offline.get(key) !== cls);
    assert.ok(byRule.length > 0, 'the rule changes some beats of this record, so agreement covers it');
    const liveByKey = new Map(live.map((p) => [p.dedupKey, p]));
    assert.equal(liveByKey.size, live.length, 'no beat published twice');
    let matched = 0;
    let agree = 0;
    for (const [key, cls] of offline) {
      const p = liveByKey.get(key);
      if (p === undefined) continue;
      matched++;
      if (p.predictedClass === cls) agree++;
    }
    t.diagnostic(
      `offline beats ${offline.size} (${byRule.length} S by the prematurity rule), live predictions ${live.length}, matched ${matched}, same class ${agree}`,
    );
    assert.ok(offline.size > 150, `offline beats: ${offline.size}`);
    assert.ok(
      matched >= 0.99 * offline.size,
      `matched ${matched} of ${offline.size} offline beats (live ${live.length})`,
    );
    assert.ok(agree >= 0.999 * matched, `agreement ${agree}/${matched}`);
    for (const p of live) {
      assert.equal(p.modelVersion, versionOfModelDir(modelB));
      // Null for the beats flushed when serve stopped (the stream had not ended: no sample completed them).
      assert.ok(
        p.lookAheadSeconds === null || (p.lookAheadSeconds > 0 && p.lookAheadSeconds < 20),
        `look-ahead ${p.lookAheadSeconds}`,
      );
      assert.equal(p.probabilities.length, 5);
    }
    assert.ok(live.filter((p) => p.lookAheadSeconds !== null).length > 0.8 * live.length);
  });

  it('swaps models between micro-batches in the middle of a stream: nothing lost, nothing classified twice, a bad model reported', async (t) => {
    const topics = await freshTopics('serve-swap');
    const metrics = new Metrics({ defaultMetrics: false });
    const records = ['100', '119'];
    const serving = await startServing({
      bus,
      brokers: broker.brokers,
      topics,
      config: serveConfigFrom(
        {
          ...DEFAULT_SERVE_ENGINE_CONFIG,
          maxBatchBeats: 32,
          asystoleSeconds: 4,
          vtMinBeats: 3,
          vtMinRate: 100,
        },
        topics,
        { expectedSources: new Set(records), timeoutMs: 180_000 },
      ),
      modelDir: modelA,
      groupId: `${topics.samples}-serve`,
      fromBeginning: true,
      swapOn: 'checkpoint',
      metrics,
      log,
    });
    const versionA = versionOfModelDir(modelA);
    const versionB = versionOfModelDir(modelB);
    const replaySink = new BatchingSink(await bus.producer());
    const eventsSink = new BatchingSink(await bus.producer());
    const checkpoint = (p: string, modelVersion: string) => ({
      key: 'it-run',
      value: getCodecs().TrainingEvent.encode({
        runId: 'it-run',
        timeMs: Date.now(),
        event: { 'ecgflow.Checkpoint': { epoch: 1, path: p, modelVersion, depth: 8 } },
      }),
    });
    try {
      const replaying = runReplay(
        {
          dataDir,
          records,
          speed: 90,
          lead: 'MLII',
          chunkSeconds: 1,
          annotator: undefined,
          samplesTopic: topics.samples,
        },
        replaySink,
        metrics,
      );
      // Once beats flow, a model that cannot load, then a good one.
      while (serving.run.engine.stats.predictions < 300) await sleep(100);
      await eventsSink.write(
        topics.trainingEvents,
        checkpoint(path.join(os.tmpdir(), 'no-such-model'), 'broken-1'),
      );
      await eventsSink.flush();
      while (serving.models.failures.length === 0) await sleep(100);
      // A checkpoint event names the weights' version; serve adds the decision's tag it loads with them.
      await eventsSink.write(topics.trainingEvents, checkpoint(modelB, weightsVersionOfModelDir(modelB)));
      await eventsSink.flush();
      await replaying;
      const summary = await serving.run.done;
      assert.equal(summary.complete, true);
      assert.equal(summary.modelSwaps, 1);
      assert.equal(summary.modelLoadFailures, 1);
      assert.ok(
        summary.predictionsByModel[versionA] > 0 && summary.predictionsByModel[versionB] > 0,
        JSON.stringify(summary.predictionsByModel),
      );
      const exposition = await metrics.registry.metrics();
      assert.match(exposition, /ecg_model_swaps_total\{outcome="failed"\} 1/);
      assert.match(exposition, /ecg_model_swaps_total\{outcome="ok"\} 1/);
    } finally {
      await serving.close();
      await replaySink.close();
      await eventsSink.close();
    }
    const live = await readPredictions(topics);
    const byKey = new Map<string, PredictionV1>();
    for (const p of live) {
      assert.ok(
        !byKey.has(p.dedupKey),
        `${p.dedupKey} classified twice (${byKey.get(p.dedupKey)?.modelVersion}, ${p.modelVersion})`,
      );
      byKey.set(p.dedupKey, p);
    }
    const beats: BeatSpectrogram[] = [];
    for (const r of records)
      beats.push(
        ...offlineBeats(
          recordChunks(await loadRecording(dataDir, r, { lead: 'MLII', annotator: undefined })),
        ),
      );
    const byA = offlineClasses(modelA, beats);
    const byB = offlineClasses(modelB, beats);
    let agree = 0;
    for (const b of beats) {
      const key = `${b.sourceId}:${b.rPeakSourceIndex}`;
      const p = byKey.get(key);
      assert.ok(p !== undefined, `beat ${key} was never classified`);
      if (p.predictedClass === (p.modelVersion === versionA ? byA : byB).get(key)) agree++;
    }
    t.diagnostic(
      `beats ${beats.length}, predictions ${live.length}, by model ${JSON.stringify(Object.fromEntries([versionA, versionB].map((v) => [v, live.filter((p) => p.modelVersion === v).length])))}, as offline ${agree}`,
    );
    assert.equal(byKey.size, beats.length, 'exactly the offline beats were classified');
    assert.ok(
      agree >= 0.999 * beats.length,
      `each beat classified as its model classifies it offline: ${agree}/${beats.length}`,
    );
    // Per source, the model changes once, between two beats: all of A's beats come before all of B's.
    for (const r of records) {
      const versions = live
        .filter((p) => p.sourceId === r)
        .sort((x, y) => x.rPeakSampleIndex - y.rPeakSampleIndex)
        .map((p) => p.modelVersion);
      const switches = versions.filter((v, i) => i > 0 && v !== versions[i - 1]).length;
      assert.ok(
        switches <= 1 && (switches === 0 || versions[0] === versionA),
        `record ${r}: ${switches} model changes`,
      );
    }
  });

  it('a killed serve instance: the other instance of the group takes its partitions over without losing a beat', async (t) => {
    const topics = await freshTopics('serve-kill');
    // Records on different partitions (murmur2 of the key), so that both instances have work.
    const records = ['100', '105', '201', '203', '215'];
    const groupId = `${topics.samples}-serve`;
    const outputs = new Map<ChildProcess, { stdout: string; stderr: string }>();
    const startInstance = (expect: boolean): ChildProcess => {
      const args = [
        MAIN,
        'serve',
        '--model',
        modelB,
        '--brokers',
        broker.brokers.join(','),
        '--topic-prefix',
        topics.samples.replace(/ecg\.samples$/, ''),
        '--group-id',
        groupId,
        '--from',
        'earliest',
        '--swap-on',
        'none',
        '--session-timeout-ms',
        '6000',
        '--no-metrics',
        '--no-energy',
        '--json',
      ];
      if (expect) args.push('--expect-sources', records.join(','), '--timeout-seconds', '240');
      const child = spawn(process.execPath, args, {
        env: { ...process.env, KAFKA_BROKERS: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const o = { stdout: '', stderr: '' };
      outputs.set(child, o);
      child.stdout?.on('data', (d: Buffer) => (o.stdout += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (o.stderr += d.toString()));
      return child;
    };
    const metrics = new Metrics({ defaultMetrics: false });
    const replaySink = new BatchingSink(await bus.producer());
    const victim = startInstance(false);
    let survivor: ChildProcess | undefined;
    try {
      const replaying = runReplay(
        {
          dataDir,
          records,
          speed: 30,
          lead: 'MLII',
          chunkSeconds: 1,
          annotator: undefined,
          samplesTopic: topics.samples,
        },
        replaySink,
        metrics,
      );
      const predicted = async () => (await bus.endOffsets(topics.predictions)).reduce((a, b) => a + b, 0);
      const deadline = Date.now() + 90_000;
      while ((await predicted()) < 500 && Date.now() < deadline) await sleep(250);
      survivor = startInstance(true);
      // Let the group rebalance onto both instances, then kill the first one in the middle of the stream
      // (the replay runs for another half minute): the survivor must finish every record.
      await sleep(10_000);
      victim.kill('SIGKILL');
      await replaying;
      const code = await new Promise<number | null>((resolve) => survivor?.once('exit', (c) => resolve(c)));
      const out = outputs.get(survivor) as { stdout: string; stderr: string };
      assert.equal(code, 0, out.stderr.slice(-3000));
      const json = JSON.parse(out.stdout.trimEnd().split('\n').pop() as string) as {
        complete: boolean;
        rewinds: number;
      };
      assert.equal(json.complete, true);
      assert.ok(json.rewinds >= 1, 'the survivor re-read the history of the sources it took over');
    } finally {
      if (victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
      if (survivor !== undefined && survivor.exitCode === null && survivor.signalCode === null)
        survivor.kill('SIGKILL');
      await replaySink.close();
    }
    const live = await readPredictions(topics);
    const keys = new Set(live.map((p) => p.dedupKey));
    const beats: BeatSpectrogram[] = [];
    for (const r of records)
      beats.push(
        ...offlineBeats(
          recordChunks(await loadRecording(dataDir, r, { lead: 'MLII', annotator: undefined })),
        ),
      );
    // Beats near the takeover point are cut again from a re-read segment, whose detector starts afresh:
    // a beat counts as classified when a prediction lies at its R-peak or within 150 ms of it.
    const near = new Map<string, number[]>();
    for (const p of live) {
      const list = near.get(p.sourceId) ?? [];
      list.push(p.rPeakSampleIndex);
      near.set(p.sourceId, list);
    }
    const missing = beats.filter((b) => {
      if (keys.has(`${b.sourceId}:${b.rPeakSourceIndex}`)) return false;
      return !(near.get(b.sourceId) ?? []).some(
        (i) => Math.abs(i - b.rPeakSourceIndex) <= 0.15 * b.sourceSampleRateHz,
      );
    });
    t.diagnostic(
      `offline beats ${beats.length}, predictions ${live.length} (${live.length - keys.size} repeated after the takeover), exact keys ${beats.filter((b) => keys.has(`${b.sourceId}:${b.rPeakSourceIndex}`)).length}, without a prediction ${missing.length}`,
    );
    assert.deepEqual(
      missing.map((b) => `${b.sourceId}:${b.rPeakSourceIndex}`),
      [],
      `${missing.length} of ${beats.length} beats without a prediction (${live.length} predictions, ${live.length - keys.size} repeated)`,
    );
  });
});
