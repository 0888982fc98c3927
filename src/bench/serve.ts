/**
 * `ecgflow bench serve --patients 500 --seconds 60 --json`: live classification through a real Kafka
 * broker under a sustained load of many simulated patients.
 *
 * Load: `--patients` sources, each an MIT-BIH record (MLII) from a different starting point (patient i
 * uses record i mod 48 from (i div 48) x 131 s), each streamed as 1 s chunks at `--speed` times real time
 * for `--seconds` of wall clock, their starts staggered over one 10 s window (patients join at different
 * times; their 10 s normalisation windows do not all close at once). Chunks carry the
 * replay clock's acquisition times (a chunk is published once its last sample is acquired), as the replay
 * does. The serve pipeline (the real one: consumer group on the samples topic, detector-driven
 * segmentation, STFT, micro-batches, native TensorFlow, predictions written to Kafka and flushed before
 * the ack) runs as `--instances` instances of one consumer group, each in its own worker thread of this
 * process (src/bench/serveInstance.ts: its own event loop and TensorFlow runtime, as separate serve
 * processes would have; native inference blocks its calling thread, so instances sharing one event loop
 * stalled each other's fetches and acknowledgements). The model is `--model DIR` or a fresh ResNet of
 * `--depth` (weights do not change the cost of inference).
 *
 * Figures, over the predictions published after a `--warmup-seconds` warm-up until the load stops:
 * beats/s sustained; end-to-end latency from the R-peak's acquisition to the prediction's publication,
 * split into the inherent segmentation look-ahead (R-peak to the last sample of the chunk that completed
 * the beat, at the replay clock) and the processing part (that sample's acquisition to publication:
 * Kafka in and out, waiting for the consumer, the operator chain, inference, the write). "Published" is
 * when the broker acknowledged the prediction (the engine's flush), not when it was handed to the
 * producer. A histogram of both is written as a picture. Every prediction is checked to be on the
 * predictions topic, once.
 *
 * The processing part is split where it can be measured, so that the load generator's own delays are
 * neither counted as serve's nor hidden: the samples topic uses LogAppendTime, and each chunk carries its
 * due time (serveLoad.ts), so `publishDelay` is due -> appended by the broker (the generator's loop, its
 * producer buffer, the produce round trip), `waitForServe` is appended -> handed to serve by its consumer,
 * and `inEngine` is handed to serve -> prediction acknowledged.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Command } from 'commander';
import { DEFAULT_CONCURRENT_PARTITIONS } from '../bus/consume';
import { KafkaBus } from '../bus/kafkaBus';
import { topicNames, topicSpecs } from '../bus/topics';
import {
  parsePositiveNumber,
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  OWN_BROKER,
} from '../cli/options';
import { serveConfigFrom } from '../cli/serving';
import { resolveBrokers, resolveDataDir } from '../config/settings';
import { ensureBroker } from '../kafka/localBroker';
import { resnetConfig } from '../model/config';
import { saveResNet } from '../model/io';
import { ResNet } from '../model/resnet';
import { writePicture } from '../report/png';
import { lineChartSvg } from '../report/svg';
import { DEFAULT_SERVE_ENGINE_CONFIG } from '../serving/engine';
import { Quantiles } from '../serving/liveScore';
import type { InstanceMessage, InstanceSpec, InstanceSummary } from './serveInstance';
import type { LoadReport, LoadSpec } from './serveLoad';
import { loadTf, resolveBackendPreference, runtimeSummary } from '../tf/backend';
import { log, printJson, table } from '../util/output';
import { listRecords } from '../wfdb/record';

interface Flags {
  patients: number;
  seconds: number;
  speed: number;
  warmupSeconds: number;
  partitions: number;
  instances: number;
  depth: number;
  model?: string;
  maxBatchBeats: number;
  maxWaitMs: number;
  maxBytesPerPartition: number;
  concurrentPartitions: number;
  out: string;
  tfBackend?: string;
  tfThreads?: number;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
}

export interface ServeBenchResult {
  patients: number;
  speed: number;
  loadSeconds: number;
  offeredSamplesPerSecond: number;
  chunks: number;
  predictions: number;
  duplicates: number;
  onTopic: number;
  measuredSeconds: number;
  beatsPerSecond: number;
  latency: {
    endToEndP50: number | null;
    endToEndP99: number | null;
    lookAheadP50: number | null;
    lookAheadP99: number | null;
    processingP50: number | null;
    processingP99: number | null;
    processingMax: number | null;
    processingWithinObjective: number | null;
  };
  /** A chunk's due time to its arrival at serve (generator, producer, broker, fetch), seconds. */
  transitP50: number | null;
  transitP99: number | null;
  /** The load generator's share of transit: due time -> appended by the broker (LogAppendTime), seconds. */
  publishDelayP50: number | null;
  publishDelayP99: number | null;
  /** The rest of transit: appended by the broker -> handed to serve by its consumer, seconds. */
  waitForServeP50: number | null;
  waitForServeP99: number | null;
  /** The completing chunk reaching serve's engine to the prediction acknowledged by the broker, seconds. */
  inEngineP50: number | null;
  inEngineP99: number | null;
  consumedBatches: number;
  /** Rounds: the consumed batches handled together with one flush (see consumeDecodedRounds). */
  rounds: number;
  meanRoundBatches: number;
  concurrentPartitions: number;
  meanConsumedBatchMessages: number;
  /** From a consumed batch's arrival to its ack (chain, inference, predictions flushed). */
  meanConsumedBatchMs: number;
  /** Largest delay of a chunk's publication behind its due time in the load generator (ms). */
  loadMaxLateMs: number;
  instances: number;
  /** TensorFlow intra-op threads of each instance. */
  tfThreads: number;
  microBatches: number;
  meanMicroBatchBeats: number;
  model: string;
  depth: number;
  /** Inference engine of the instances (ECGFLOW_INFERENCE: graph on native backends by default). */
  inference: string;
  backend: string;
  partitions: number;
  broker: string;
  pictures: string[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function register(bench: Command): void {
  const cmd = bench
    .command('serve')
    .description(
      'live classification of many simulated patients through a real Kafka broker: beats/s, latency p50/p99',
    )
    .option('--patients <n>', 'simulated patients (sources)', parsePositiveNumber('patients'), 500)
    .option('--seconds <s>', 'wall-clock seconds of sustained load', parsePositiveNumber('seconds'), 60)
    .option(
      '--speed <factor>',
      'each patient streams at this multiple of real time',
      parsePositiveNumber('speed'),
      4,
    )
    .option(
      '--warmup-seconds <s>',
      'predictions before this are not measured (look-ahead fill, JIT)',
      parsePositiveNumber('warmup-seconds'),
      15,
    )
    .option('--partitions <n>', 'partitions of the samples topic', parsePositiveNumber('partitions'), 6)
    .option(
      '--instances <n>',
      'serve instances in the consumer group (each in its own worker thread)',
      parsePositiveNumber('instances'),
      2,
    )
    .option(
      '--depth <d>',
      'depth of the fresh model when no --model is given (6n+2)',
      parsePositiveNumber('depth'),
      14,
    )
    .option('--model <dir>', 'serve this saved model instead of a fresh one')
    .option(
      '--max-batch-beats <n>',
      'most beats per inference micro-batch',
      parsePositiveNumber('max-batch-beats'),
      DEFAULT_SERVE_ENGINE_CONFIG.maxBatchBeats,
    )
    .option(
      '--max-wait-ms <ms>',
      'longest a beat waits for its micro-batch',
      parsePositiveNumber('max-wait-ms'),
      DEFAULT_SERVE_ENGINE_CONFIG.maxWaitMs,
    )
    .option(
      '--max-bytes-per-partition <bytes>',
      'Kafka fetch size per partition',
      parsePositiveNumber('max-bytes-per-partition'),
      262_144,
    )
    .option(
      '--concurrent-partitions <n>',
      "partitions of one fetch each instance handles in one round (1: one partition's batch at a time)",
      parsePositiveNumber('concurrent-partitions'),
      DEFAULT_CONCURRENT_PARTITIONS,
    )
    .option('--out <dir>', 'where the latency pictures go', path.join('out', 'bench-serve'))
    .option('--tf-backend <name>', 'auto, native, gpu or js')
    .option(
      '--tf-threads <n>',
      'TensorFlow intra-op threads of each instance (default: the cores divided among the instances; env TF_NUM_INTRAOP_THREADS wins)',
      parsePositiveNumber('tf-threads'),
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd, OWN_BROKER);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const result = await benchServe(flags);
    if (flags.json) printJson(result);
    else
      process.stdout.write(
        `${table([
          [
            'beats/s',
            'e2e p50',
            'e2e p99',
            'look-ahead p50',
            'processing p50',
            'processing p99',
            'predictions',
            'duplicates',
          ],
          [
            Math.round(result.beatsPerSecond),
            result.latency.endToEndP50 ?? '-',
            result.latency.endToEndP99 ?? '-',
            result.latency.lookAheadP50 ?? '-',
            result.latency.processingP50 ?? '-',
            result.latency.processingP99 ?? '-',
            result.predictions,
            result.duplicates,
          ],
        ])}\n`,
      );
  });
}

function histogram(values: Float64Array, binWidth: number, maxValue: number): [number, number][] {
  const bins = Math.max(1, Math.ceil(maxValue / binWidth));
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.max(0, Math.floor(v / binWidth)))]++;
  const total = values.length || 1;
  return counts.map((c, i) => [(i + 0.5) * binWidth, (100 * c) / total]);
}

export async function benchServe(flags: Flags): Promise<ServeBenchResult> {
  // Each instance has its own TensorFlow runtime, as separate processes would; by default they share the
  // cores out instead of each taking them all (2 instances x 2 intra-op threads on 2 cores oversubscribe
  // them whenever both classify at once). But the instances are threads of one process, and TensorFlow's
  // inter-op pool, which runs the graph engine's sessions, is one per process: with one inter-op thread
  // the instances' inferences would queue behind each other (measured: 0.88 instead of 0.45 ms per beat
  // each), which separate processes do not. So the process gets one inter-op thread per instance's share.
  // TensorFlow reads these when a runtime starts, so they are set before any is.
  const tfThreads =
    flags.tfThreads ??
    Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / flags.instances));
  process.env.TF_NUM_INTRAOP_THREADS ??= String(tfThreads);
  process.env.TF_NUM_INTEROP_THREADS ??= String(tfThreads * flags.instances);
  const runtime = await loadTf({ prefer: resolveBackendPreference(flags.tfBackend) });
  const dataDir = resolveDataDir(flags.dataDir);
  const records = await listRecords(dataDir);
  const given = resolveBrokers(flags.brokers);
  const broker =
    given === undefined
      ? await ensureBroker({ name: 'bench' })
      : { brokers: given, started: false, stop: async () => undefined };
  const bus = new KafkaBus({ brokers: broker.brokers, clientId: 'ecgflow-bench-serve' });
  const runId = `${Date.now()}-${process.pid}`;
  const topics = topicNames(`bench-serve-${runId}.`);
  const tmpModel =
    flags.model === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-bench-serve-')) : undefined;
  const workers: Worker[] = [];
  try {
    // The model: a saved one, or a fresh one saved and loaded the way serve loads any model.
    let modelDir = flags.model;
    if (modelDir === undefined) {
      const fresh = ResNet.create(resnetConfig({ depth: flags.depth }), { seed: 1 });
      await saveResNet(fresh, tmpModel as string);
      fresh.dispose();
      modelDir = tmpModel as string;
    }
    const benchStart = Date.now() + 5000;
    // LogAppendTime on the samples topic: consumed messages carry the broker's append time, which splits
    // transit into the load generator's share and serve's (the chunks' own times are in their payload).
    await bus.ensureTopics(
      topicSpecs(topics, { samples: flags.partitions }).map((s) =>
        s.topic === topics.samples ? { ...s, config: { 'message.timestamp.type': 'LogAppendTime' } } : s,
      ),
    );
    const config = serveConfigFrom(
      {
        ...DEFAULT_SERVE_ENGINE_CONFIG,
        maxBatchBeats: flags.maxBatchBeats,
        maxWaitMs: flags.maxWaitMs,
        asystoleSeconds: 4,
        vtMinBeats: 3,
        vtMinRate: 100,
        idleSourceSeconds: 0,
        lookBackSeconds: 0,
      },
      topics,
    );
    const loadEndMs = benchStart + flags.seconds * 1000;
    const measureFromMs = benchStart + flags.warmupSeconds * 1000;
    const seen = new Set<string>();
    let predictions = 0;
    let duplicates = 0;
    const processing = new Quantiles();
    const lookAhead = new Quantiles();
    const endToEnd = new Quantiles();
    // Transit: from a chunk's due time (its last sample acquired) to its arrival at serve, split at the
    // broker's append time.
    const transit = new Quantiles();
    const publishDelay = new Quantiles();
    const waitForServe = new Quantiles();
    const inEngine = new Quantiles();
    const add = (q: Quantiles, values: readonly number[]) => {
      for (const v of values) q.add(v);
    };

    // Serve instances in one consumer group, each in its own worker thread with its own consumer, sinks,
    // operator state, TensorFlow runtime and model, as separate serve processes would be (serveInstance.ts).
    const summaries: InstanceSummary[] = [];
    let ready: Extract<InstanceMessage, { kind: 'ready' }> | undefined;
    const finished: Promise<void>[] = [];
    let readyCount = 0;
    let allReady: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (allReady = resolve));
    for (let i = 0; i < flags.instances; i++) {
      const spec: InstanceSpec = {
        index: i,
        brokers: broker.brokers,
        samplesTopic: topics.samples,
        groupId: `bench-serve-${runId}`,
        modelDir,
        config,
        maxBytesPerPartition: flags.maxBytesPerPartition,
        concurrentPartitions: flags.concurrentPartitions,
        measureFromMs,
        measureToMs: loadEndMs,
        speed: flags.speed,
        tfBackend: flags.tfBackend,
      };
      const worker = new Worker(path.join(__dirname, 'serveInstance.js'), { workerData: spec });
      workers.push(worker);
      finished.push(
        new Promise<void>((resolve, reject) => {
          worker.on('message', (m: InstanceMessage) => {
            if (m.kind === 'ready') {
              ready = m;
              if (++readyCount === flags.instances) allReady();
            } else if (m.kind === 'measure') {
              for (const key of m.keys) {
                if (seen.has(key)) duplicates++;
                seen.add(key);
              }
              predictions += m.keys.length;
              add(processing, m.processing);
              add(lookAhead, m.lookAhead);
              for (let k = 0; k < m.processing.length; k++) endToEnd.add(m.processing[k] + m.lookAhead[k]);
              add(inEngine, m.inEngine);
              add(transit, m.transit);
              add(publishDelay, m.publishDelay);
              add(waitForServe, m.waitForServe);
            } else if (m.kind === 'done') {
              summaries.push(m);
            } else if (m.kind === 'error') {
              reject(new Error(`serve instance ${m.index}: ${m.message}`));
            }
          });
          worker.on('error', reject);
          // Resolved at exit, after the instance has left the group: its topics may then be deleted.
          worker.on('exit', (code) => {
            if (code !== 0) reject(new Error(`serve instance ${i} exited with ${code}`));
            else resolve();
          });
        }),
      );
    }
    const failed = Promise.all(finished).then(() => {
      throw new Error('the serve instances ended before the load did');
    });
    await Promise.race([started, failed]);
    const model = ready as Extract<InstanceMessage, { kind: 'ready' }>;

    log(
      `bench serve: ${flags.patients} patients at ${flags.speed}x real time for ${flags.seconds} s through Kafka at ${broker.brokers.join(',')} (${flags.partitions} partitions); ${flags.instances} serve instance(s), model ${model.modelVersion} (depth ${model.depth}, ${model.inference} inference) on ${JSON.stringify(runtimeSummary(runtime))}`,
    );
    // The load, in a worker thread: its publication times must not wait for serve's event loop.
    const spec: LoadSpec = {
      brokers: broker.brokers,
      topic: topics.samples,
      dataDir,
      records,
      patients: flags.patients,
      speed: flags.speed,
      seconds: flags.seconds,
      startMs: benchStart,
    };
    const load = await Promise.race([
      failed,
      new Promise<LoadReport>((resolve, reject) => {
        const worker = new Worker(path.join(__dirname, 'serveLoad.js'), { workerData: spec });
        let lastReport = Date.now();
        worker.on(
          'message',
          (m: { kind: string; chunks?: number; report?: LoadReport; message?: string }) => {
            if (m.kind === 'progress' && Date.now() - lastReport >= 5000) {
              lastReport = Date.now();
              log(
                `bench serve: ${Math.round((Date.now() - benchStart) / 1000)} s: ${m.chunks} chunks published, ${predictions} predictions`,
              );
            } else if (m.kind === 'done') resolve(m.report as LoadReport);
            else if (m.kind === 'error') reject(new Error(`load generator: ${m.message}`));
          },
        );
        worker.on('error', reject);
      }),
    ]);
    const chunks = load.chunks;
    const samplesPublished = load.samples;
    const measuredSeconds = (loadEndMs - measureFromMs) / 1000;
    // Let the pipeline drain what was published, then stop it (flushing what the chain still holds).
    await sleep(3000);
    for (const w of workers) w.postMessage({ kind: 'stop' });
    await Promise.all(finished);
    const microBatches = summaries.reduce((n, x) => n + x.microBatches, 0);
    const classified = summaries.reduce((n, x) => n + x.predictions, 0);
    const rounds = summaries.reduce((n, x) => n + x.rounds, 0);
    const batchSize = {
      count: summaries.reduce((n, x) => n + x.consumedBatches, 0),
      sum: summaries.reduce((n, x) => n + x.consumedMessages, 0),
    };
    const batchTime = { sum: summaries.reduce((n, x) => n + x.batchSeconds, 0) };
    const onTopic = (await bus.endOffsets(topics.predictions)).reduce((a, b) => a + b, 0);
    const measured = processing.count;
    const modelVersion = model.modelVersion;
    const modelDepth = model.depth;

    fs.mkdirSync(flags.out, { recursive: true });
    const proc = processing.all();
    const e2e = endToEnd.all();
    const procMaxMs = Math.max(250, 1000 * (processing.quantile(0.999) ?? 0.25));
    const pictures = [
      ...writePicture(
        path.join(flags.out, 'processing-latency'),
        lineChartSvg({
          title: `serve: processing latency, ${flags.patients} patients at ${flags.speed}x (${Math.round(measured / measuredSeconds)} beats/s)`,
          xLabel: 'acquisition of the completing sample -> prediction published (ms)',
          yLabel: '% of beats',
          series: [
            {
              name: 'processing',
              points: histogram(
                proc.map((v) => v * 1000),
                Math.max(1, procMaxMs / 60),
                procMaxMs,
              ),
            },
          ],
          markers: [
            { x: 200, label: 'objective 200 ms', color: '#d62728' },
            { x: 1000 * (processing.quantile(0.99) ?? 0), label: 'p99', color: '#555' },
          ],
        }),
      ),
      ...writePicture(
        path.join(flags.out, 'end-to-end-latency'),
        lineChartSvg({
          title: `serve: end-to-end latency from the R-peak (replay clock ${flags.speed}x)`,
          xLabel: 'R-peak acquired -> prediction published (s, wall clock)',
          yLabel: '% of beats',
          series: [
            {
              name: 'end to end',
              points: histogram(
                e2e,
                Math.max(0.01, (endToEnd.quantile(0.999) ?? 1) / 60),
                endToEnd.quantile(0.999) ?? 1,
              ),
            },
          ],
          markers: [{ x: endToEnd.quantile(0.99) ?? 0, label: 'p99', color: '#555' }],
        }),
      ),
    ];
    let within = 0;
    for (const v of proc) if (v <= 0.2) within++;
    const r3 = (x: number | null) => (x === null ? null : Number(x.toFixed(3)));
    return {
      patients: flags.patients,
      speed: flags.speed,
      loadSeconds: flags.seconds,
      offeredSamplesPerSecond: Math.round(samplesPublished / flags.seconds),
      chunks,
      predictions,
      duplicates,
      onTopic,
      measuredSeconds,
      beatsPerSecond: measured / measuredSeconds,
      latency: {
        endToEndP50: r3(endToEnd.quantile(0.5)),
        endToEndP99: r3(endToEnd.quantile(0.99)),
        lookAheadP50: r3(lookAhead.quantile(0.5)),
        lookAheadP99: r3(lookAhead.quantile(0.99)),
        processingP50: r3(processing.quantile(0.5)),
        processingP99: r3(processing.quantile(0.99)),
        processingMax: r3(processing.quantile(1)),
        processingWithinObjective: proc.length === 0 ? null : Number((within / proc.length).toFixed(4)),
      },
      transitP50: r3(transit.quantile(0.5)),
      transitP99: r3(transit.quantile(0.99)),
      publishDelayP50: r3(publishDelay.quantile(0.5)),
      publishDelayP99: r3(publishDelay.quantile(0.99)),
      waitForServeP50: r3(waitForServe.quantile(0.5)),
      waitForServeP99: r3(waitForServe.quantile(0.99)),
      inEngineP50: r3(inEngine.quantile(0.5)),
      inEngineP99: r3(inEngine.quantile(0.99)),
      consumedBatches: batchSize.count,
      rounds,
      meanRoundBatches: rounds > 0 ? Number((batchSize.count / rounds).toFixed(2)) : 0,
      concurrentPartitions: flags.concurrentPartitions,
      meanConsumedBatchMessages:
        batchSize.count > 0 ? Number((batchSize.sum / batchSize.count).toFixed(1)) : 0,
      meanConsumedBatchMs:
        batchSize.count > 0 ? Number(((1000 * batchTime.sum) / batchSize.count).toFixed(1)) : 0,
      loadMaxLateMs: Math.round(load.maxLateMs),
      instances: flags.instances,
      tfThreads: Number(process.env.TF_NUM_INTRAOP_THREADS),
      microBatches,
      meanMicroBatchBeats: microBatches > 0 ? Number((classified / microBatches).toFixed(1)) : 0,
      model: modelVersion,
      depth: modelDepth,
      inference: model.inference,
      backend: runtime.backend,
      partitions: flags.partitions,
      broker: broker.started ? 'local (scripts/kafka/broker.sh)' : broker.brokers.join(','),
      pictures,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate())); // exited already unless something failed
    await bus.deleteTopics(Object.values(topics)).catch(() => undefined);
    await bus.close();
    await broker.stop();
    if (tmpModel !== undefined) fs.rmSync(tmpModel, { recursive: true, force: true });
  }
}
