/**
 * What `serve`, the main job (`run`) and `bench serve` share: the serve flags mapped onto one ServeConfig,
 * and starting the serve pipeline on a bus (initial model, hot-swap reporting, sinks, the samples and
 * training-events sources, history for sources met mid-stream on Kafka).
 */
import { Option, type Command } from 'commander';
import {
  DEFAULT_SERVE_CHAIN,
  runServe,
  type ServeConfig,
  type ServeDeps,
  type ServeRun,
} from '../../pipelines/serve';
import { DEFAULT_CONCURRENT_PARTITIONS } from '../bus/consume';
import { KafkaPartitionReader } from '../bus/partitionRange';
import { BatchingSink } from '../bus/sink';
import { topicSpecs, type TopicNames } from '../bus/topics';
import type { Bus } from '../bus/types';
import { ConfigError, EcgflowError, describeError } from '../errors';
import { instrumentSource } from '../metrics/instrument';
import type { Metrics } from '../metrics/registry';
import { describeClassifier } from '../model/classifier';
import { describePrematurityRule } from '../scoring/prematurityRule';
import { SPECTROGRAM_INPUT_SHAPE } from '../model/config';
import { getCodecs } from '../schemas/codec';
import { DEFAULT_SERVE_ENGINE_CONFIG } from '../serving/engine';
import { loadServingModel, ModelManager, weightsVersionOfModelDir } from '../serving/modelManager';
import { KafkaSampleHistory } from '../serving/sampleHistory';
import type { SwapPolicy } from '../serving/trainingEvents';
import { AAMI_CLASSES } from '../wfdb/labels';
import { parsePositiveNumber } from './options';

export interface ServeFlags {
  model: string;
  groupId: string;
  from: 'earliest' | 'latest';
  maxBatchBeats: number;
  maxWaitMs: number;
  swapOn: SwapPolicy;
  followRun?: string;
  asystoleSeconds: number;
  vtMinBeats: number;
  vtMinRate: number;
  lookBackSeconds: number;
  idleSourceSeconds: number;
  maxBytesPerPartition?: number;
  concurrentPartitions: number;
  topicPrefix: string;
  tfBackend?: string;
}

const nonNegative = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`"${v}" is not a number >= 0`, name);
  return n;
};
const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`"${v}" is not a positive integer`, name);
  return n;
};

/** The serve flags (all but --model, which callers declare as they need). */
export function addServeOptions(cmd: Command): Command {
  const d = DEFAULT_SERVE_ENGINE_CONFIG;
  return cmd
    .option(
      '--group-id <id>',
      'consumer group: instances with the same group share the partitions',
      'ecgflow-serve',
    )
    .addOption(
      new Option('--from <where>', 'where a new group starts on the samples topic')
        .choices(['earliest', 'latest'])
        .default('latest'),
    )
    .option(
      '--max-batch-beats <n>',
      'most beats per inference micro-batch',
      positiveInt('max-batch-beats'),
      d.maxBatchBeats,
    )
    .option(
      '--max-wait-ms <ms>',
      'longest a beat waits for its micro-batch to fill',
      nonNegative('max-wait-ms'),
      d.maxWaitMs,
    )
    .addOption(
      new Option('--swap-on <when>', 'hot swap at every trainer checkpoint, only after a growth, or never')
        .choices(['checkpoint', 'growth', 'none'])
        .default('checkpoint'),
    )
    .option('--follow-run <runId>', 'only follow this training run (default: any)')
    .option(
      '--asystole-seconds <s>',
      'asystole alert after this long without a detected beat',
      parsePositiveNumber('asystole-seconds'),
      4,
    )
    .option(
      '--vt-min-beats <n>',
      'ventricular tachycardia: at least this many consecutive V beats ...',
      positiveInt('vt-min-beats'),
      3,
    )
    .option('--vt-min-rate <bpm>', '... at this rate or faster', parsePositiveNumber('vt-min-rate'), 100)
    .option(
      '--look-back-seconds <s>',
      'signal re-read for a source met mid-stream (Kafka; 0: none)',
      nonNegative('look-back-seconds'),
      d.lookBackSeconds,
    )
    .option(
      '--idle-source-seconds <s>',
      'close a silent source after this long (0: never)',
      nonNegative('idle-source-seconds'),
      d.idleSourceSeconds,
    )
    .option(
      '--max-bytes-per-partition <bytes>',
      'Kafka fetch size per partition (smaller: smaller consumed batches)',
      positiveInt('max-bytes-per-partition'),
    )
    .option(
      '--concurrent-partitions <n>',
      'Kafka: partitions of one fetch handled together in one round (one flush); 1: one at a time',
      positiveInt('concurrent-partitions'),
      DEFAULT_CONCURRENT_PARTITIONS,
    )
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '')
    .option('--tf-backend <name>', 'auto, native, gpu or js (env ECGFLOW_TF_BACKEND)');
}

/** The typed configuration of a serve run from its flags. */
export function serveConfigFrom(
  flags: Pick<
    ServeFlags,
    | 'maxBatchBeats'
    | 'maxWaitMs'
    | 'asystoleSeconds'
    | 'vtMinBeats'
    | 'vtMinRate'
    | 'lookBackSeconds'
    | 'idleSourceSeconds'
  >,
  topics: TopicNames,
  extra: Partial<ServeConfig> = {},
): ServeConfig {
  if (flags.vtMinBeats < 2) throw new ConfigError('--vt-min-beats must be at least 2', 'vt-min-beats');
  return {
    predictionsTopic: topics.predictions,
    alertsTopic: topics.alerts,
    deadLetterTopic: topics.deadLetter,
    maxBatchBeats: flags.maxBatchBeats,
    maxWaitMs: flags.maxWaitMs,
    lookBackSeconds: flags.lookBackSeconds,
    idleSourceSeconds: flags.idleSourceSeconds,
    chain: { ...DEFAULT_SERVE_CHAIN },
    alerts: {
      asystoleSeconds: flags.asystoleSeconds,
      vtMinBeats: flags.vtMinBeats,
      vtMinRateBpm: flags.vtMinRate,
    },
    ...extra,
  };
}

export interface StartServingOptions {
  bus: Bus;
  /** Kafka brokers, when `bus` is Kafka: enables re-reading history for sources met mid-stream. */
  brokers: readonly string[] | undefined;
  topics: TopicNames;
  config: ServeConfig;
  modelDir: string;
  groupId: string;
  fromBeginning: boolean;
  swapOn: SwapPolicy;
  followRun?: string;
  maxBytesPerPartition?: number;
  /** Kafka: partitions of one fetch handled in one round; default DEFAULT_CONCURRENT_PARTITIONS. */
  concurrentPartitions?: number;
  metrics: Metrics;
  log: (line: string) => void;
  onPrediction?: ServeDeps['onPrediction'];
  onAlert?: ServeDeps['onAlert'];
  onBatch?: ServeDeps['onBatch'];
}

export interface ServingHandle {
  run: ServeRun;
  models: ModelManager;
  /** Flush and close the sinks, dispose the models (after `run.done`). */
  close(): Promise<void>;
}

/** Load the initial model and start the serve pipeline; throws when the initial model cannot be loaded. */
export async function startServing(options: StartServingOptions): Promise<ServingHandle> {
  const { bus, topics, metrics, log } = options;
  const expected = { inputShape: SPECTROGRAM_INPUT_SHAPE, classes: AAMI_CLASSES };
  const initial = loadServingModel(options.modelDir, weightsVersionOfModelDir(options.modelDir), expected);
  log(
    `serve: model ${initial.version} (${describeClassifier(initial.depths)}, ${initial.parameters.toLocaleString('en-US')} parameters, ${initial.snapshot.engine} inference${initial.prematurity === undefined ? '' : `, ${describePrematurityRule(initial.prematurity.rule)}`}) from ${initial.dir}`,
  );
  const models = new ModelManager(initial, expected, {
    onLoaded: (m, seconds) =>
      log(
        `serve: model ${m.version} (depth ${m.depth}) loaded in ${seconds.toFixed(2)} s; switching at the next micro-batch`,
      ),
    onLoadFailed: (dir, v, err) => {
      metrics.modelSwaps.labels('failed').inc();
      metrics.errors.inc({ stage: 'serve', code: err instanceof EcgflowError ? err.code : 'UNEXPECTED' });
      log(
        `serve: model ${v} from ${dir} failed to load (${describeError(err)}); serving on with ${models.current.version}`,
      );
    },
    onSwapped: (from, to) => {
      metrics.modelSwaps.labels('ok').inc();
      log(`serve: swapped model ${from.version} -> ${to.version}`);
    },
  });
  // The samples topic is the caller's (its partition count is the producers' choice); the outputs are ours.
  const outputs = new Set([topics.predictions, topics.alerts, topics.trainingEvents, topics.deadLetter]);
  await bus.ensureTopics(topicSpecs(topics).filter((s) => outputs.has(s.topic)));
  const predictionsSink = new BatchingSink(await bus.producer());
  const alertsSink = new BatchingSink(await bus.producer());
  const deadLetterSink = new BatchingSink(await bus.producer());
  const source = instrumentSource(
    bus.source({
      groupId: options.groupId,
      topics: [topics.samples],
      fromBeginning: options.fromBeginning,
      maxBytesPerPartition: options.maxBytesPerPartition,
      concurrentPartitions: options.concurrentPartitions ?? DEFAULT_CONCURRENT_PARTITIONS,
    }),
    metrics,
    'serve',
  );
  const training =
    options.swapOn === 'none'
      ? undefined
      : {
          source: bus.source({
            groupId: `${options.groupId}-events-${process.pid}-${Date.now()}`,
            topics: [topics.trainingEvents],
            fromBeginning: true,
          }),
          swapOn: options.swapOn,
          sinceMs: Date.now(),
          runId: options.followRun,
        };
  const history =
    bus.kind === 'kafka' && options.brokers !== undefined && options.config.lookBackSeconds > 0
      ? new KafkaSampleHistory(
          new KafkaPartitionReader(bus, options.brokers, `${options.groupId}-history`),
          getCodecs().SampleChunk,
          {
            // Message timestamps are acquisition (or publication) times; replays faster than real time only read more.
            lookBackMs: options.config.lookBackSeconds * 1000 + 5000,
            maxMessages: 200_000,
            timeoutMs: 60_000,
          },
        )
      : undefined;
  const run = runServe(options.config, {
    source,
    models,
    predictionsSink,
    alertsSink,
    deadLetterSink,
    metrics,
    log,
    history,
    training,
    onPrediction: options.onPrediction,
    onAlert: options.onAlert,
    onBatch: options.onBatch,
  });
  return {
    run,
    models,
    close: async () => {
      try {
        await source.stopped();
        if (training !== undefined) await training.source.stopped();
        await models.idle();
        await predictionsSink.close();
        await alertsSink.close();
        await deadLetterSink.close();
      } finally {
        models.dispose();
      }
    },
  };
}
