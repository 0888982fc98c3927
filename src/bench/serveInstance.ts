/**
 * One serve instance of `bench serve`, run in a worker thread: the real serve pipeline (its own Kafka
 * consumer in the bench's group, its own sinks, operator state, TensorFlow runtime and model) with its
 * own event loop, as a separate serve process would have. Instances that shared one event loop blocked
 * each other: native inference runs synchronously on the calling thread, so while one instance
 * classified a micro-batch the other could neither fetch nor see its produce acknowledgements, which the
 * benchmark then reported as transit latency that separate processes do not have.
 *
 * It reports its measurements to the bench (src/bench/serve.ts) in messages, each prediction's once the
 * broker has acknowledged it: processing latency (acquisition of the completing sample -> acknowledged),
 * look-ahead, in-engine time, and per consumed chunk the transit split at the broker's append time.
 */
import { tap } from 'rxjs';
import { runServe, type ServeConfig } from '../../pipelines/serve';
import { KafkaBus } from '../bus/kafkaBus';
import { BatchingSink } from '../bus/sink';
import { instrumentSource } from '../metrics/instrument';
import { Metrics } from '../metrics/registry';
import { SPECTROGRAM_INPUT_SHAPE } from '../model/config';
import { loadServingModel, ModelManager, weightsVersionOfModelDir } from '../serving/modelManager';
import { loadTf, resolveBackendPreference } from '../tf/backend';
import { errorText, workerTask } from '../util/workerTask';
import { AAMI_CLASSES } from '../wfdb/labels';
import { DUE_HEADER } from './serveLoad';

export interface InstanceSpec {
  index: number;
  brokers: string[];
  samplesTopic: string;
  groupId: string;
  modelDir: string;
  config: ServeConfig;
  maxBytesPerPartition: number;
  concurrentPartitions: number;
  /** Only predictions acknowledged and chunks arriving in [measureFromMs, measureToMs] are measured. */
  measureFromMs: number;
  measureToMs: number;
  /** The load's speed: look-ahead is reported in wall-clock seconds at that clock. */
  speed: number;
  tfBackend?: string;
}

/** Measurements since the previous report (seconds; parallel arrays per kind). */
export interface InstanceMeasurements {
  kind: 'measure';
  /** dedupKey of every prediction acknowledged (measured or not), for the duplicate check. */
  keys: string[];
  processing: number[];
  lookAhead: number[];
  inEngine: number[];
  transit: number[];
  publishDelay: number[];
  waitForServe: number[];
}

export interface InstanceSummary {
  kind: 'done';
  index: number;
  predictions: number;
  microBatches: number;
  rounds: number;
  consumedBatches: number;
  consumedMessages: number;
  batchSeconds: number;
  modelVersion: string;
  depth: number;
}

export type InstanceMessage =
  | { kind: 'ready'; index: number; modelVersion: string; depth: number; backend: string; inference: string }
  | InstanceMeasurements
  | InstanceSummary
  | { kind: 'error'; index: number; message: string };

async function sumCount(h: {
  get(): Promise<{ values: { metricName?: string; value: number }[] }>;
}): Promise<{ sum: number; count: number }> {
  const values = (await h.get()).values;
  const pick = (suffix: string) =>
    values.filter((v) => v.metricName?.endsWith(suffix)).reduce((a, v) => a + v.value, 0);
  return { sum: pick('_sum'), count: pick('_count') };
}

/** Run one instance until `stop` resolves; `report` receives measurements, then the summary. */
export async function runInstance(
  spec: InstanceSpec,
  report: (m: InstanceMessage) => void,
  stop: Promise<void>,
): Promise<void> {
  const runtime = await loadTf({ prefer: resolveBackendPreference(spec.tfBackend) });
  const expected = { inputShape: SPECTROGRAM_INPUT_SHAPE, classes: AAMI_CLASSES };
  const models = new ModelManager(
    loadServingModel(spec.modelDir, weightsVersionOfModelDir(spec.modelDir), expected),
    expected,
  );
  const bus = new KafkaBus({ brokers: spec.brokers, clientId: `ecgflow-bench-serve-${spec.index}` });
  const metrics = new Metrics({ defaultMetrics: false });
  let pending: InstanceMeasurements = emptyMeasurements();
  const inWindow = (ms: number) => ms >= spec.measureFromMs && ms <= spec.measureToMs;
  const raw = bus.source({
    groupId: spec.groupId,
    topics: [spec.samplesTopic],
    fromBeginning: true,
    maxBytesPerPartition: spec.maxBytesPerPartition,
    concurrentPartitions: spec.concurrentPartitions,
  });
  const timed = {
    batches$: raw.batches$.pipe(
      tap((batch) => {
        const now = Date.now();
        if (!inWindow(now)) return;
        for (const m of batch.messages) {
          const dueMs = Number(m.headers[DUE_HEADER]);
          pending.transit.push((now - dueMs) / 1000);
          pending.publishDelay.push((m.timestampMs - dueMs) / 1000);
          pending.waitForServe.push((now - m.timestampMs) / 1000);
        }
      }),
    ),
    stopped: () => raw.stopped(),
  };
  const sinks = [
    new BatchingSink(await bus.producer()),
    new BatchingSink(await bus.producer()),
    new BatchingSink(await bus.producer()),
  ];
  let predictions = 0;
  let rounds = 0;
  const run = runServe(spec.config, {
    source: instrumentSource(timed, metrics, 'serve'),
    models,
    predictionsSink: sinks[0],
    alertsSink: sinks[1],
    deadLetterSink: sinks[2],
    metrics,
    log: (line) => process.stderr.write(`[instance ${spec.index}] ${line}\n`),
    // Measured once the broker has acknowledged the predictions: latency as published.
    onAcknowledged: (infos, ackMs) => {
      const measured = inWindow(ackMs);
      for (const { prediction: p, recovered, completedAtMs, arrivedAtMs } of infos) {
        predictions++;
        pending.keys.push(p.dedupKey);
        if (recovered || !measured) continue;
        pending.processing.push((ackMs - completedAtMs) / 1000);
        pending.lookAhead.push((p.lookAheadSeconds ?? 0) / spec.speed);
        pending.inEngine.push((ackMs - arrivedAtMs) / 1000);
      }
    },
    onBatch: () => rounds++,
  });
  report({
    kind: 'ready',
    index: spec.index,
    modelVersion: models.current.version,
    depth: models.current.depth,
    backend: runtime.backend,
    inference: models.current.snapshot.engine,
  });
  const flushMeasurements = () => {
    if (pending.keys.length === 0 && pending.transit.length === 0) return;
    report(pending);
    pending = emptyMeasurements();
  };
  const timer = setInterval(flushMeasurements, 1000);
  try {
    await Promise.race([stop, run.done]);
    run.stop();
    const summary = await run.done;
    await Promise.all(sinks.map((s) => s.close()));
    flushMeasurements();
    const batchSize = await sumCount(metrics.consumedBatchSize);
    const batchTime = await sumCount(metrics.batchDuration);
    report({
      kind: 'done',
      index: spec.index,
      predictions,
      microBatches: summary.microBatches,
      rounds,
      consumedBatches: batchSize.count,
      consumedMessages: batchSize.sum,
      batchSeconds: batchTime.sum,
      modelVersion: models.current.version,
      depth: models.current.depth,
    });
  } finally {
    clearInterval(timer);
    await raw.stopped();
    models.dispose();
    await bus.close();
  }
}

function emptyMeasurements(): InstanceMeasurements {
  return {
    kind: 'measure',
    keys: [],
    processing: [],
    lookAhead: [],
    inEngine: [],
    transit: [],
    publishDelay: [],
    waitForServe: [],
  };
}

// As a worker thread: run the instance described by workerData until the bench says stop.
const task = workerTask<InstanceSpec>('groupId');
if (task !== undefined) {
  const { port, data: spec } = task;
  const stop = new Promise<void>((resolve) =>
    port.on('message', (m: { kind?: string }) => {
      if (m.kind === 'stop') resolve();
    }),
  );
  runInstance(spec, (m) => port.postMessage(m), stop).then(
    () => port.close(),
    (err: unknown) => port.postMessage({ kind: 'error', index: spec.index, message: errorText(err) }),
  );
}
