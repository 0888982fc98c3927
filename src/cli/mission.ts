/**
 * The main job after its replay-and-consume stage (`ecgflow run`, `npm start`): the rest of the mission
 * on the same bus, each stage a pipeline the project already has:
 *   2. preprocess: the protocol's beat log (replay -> annotation-driven segmentation -> ecg.beats.<protocol>),
 *      built by `ensureBeatLog` unless it is already there;
 *   3. adaptive training with a short configuration (below) that finishes in minutes on 2 cores, events on
 *      ecg.training.events, checkpoints and the model in `--out`;
 *   4. live classification: the test records replayed again, paced, while `serve` classifies them with the
 *      trained model; predictions scored against the reference annotations; throughput and latency.
 *
 * The short configuration (documented in README and docs/serving.md): inter-patient protocol (train on
 * DS1, serve DS2), ResNet depth 14 growing once to 26, 4 epochs with the growth forced at the end of the
 * second (window 1, reserve 1), 5 power iterations per epoch, batch 64, a deterministic subset of about
 * 8,000 beats, the beat-context features (RR intervals and template morphology beside the spectrogram)
 * and square-root class weights, because live inter-patient scoring is what this stage shows and the
 * image-only model finds almost no S beats there (docs/training.md). It shows the whole loop; it is not a
 * result to compare with the literature (`ecgflow train` runs the paper's configuration).
 */
import * as path from 'node:path';
import { runLiveStage, type LiveStageSummary } from '../../pipelines/main';
import { KafkaPartitionReader, positionGroupAtEnd } from '../bus/partitionRange';
import type { TopicNames } from '../bus/topics';
import type { Bus } from '../bus/types';
import { SEED_PAPER_PREPARATION } from '../beats/preparation';
import { ConfigError } from '../errors';
import type { Metrics } from '../metrics/registry';
import { SPECTROGRAM_INPUT_SHAPE } from '../model/config';
import { writeDecision } from '../model/decision';
import {
  describePrematurityRule,
  PREMATURITY_RULE_DS1,
  readsPrematurityInputs,
} from '../scoring/prematurityRule';
import { featureNamesOf } from '../trainer/beatFeatures';
import { DE_CHAZAL_DS1, DE_CHAZAL_DS2 } from '../protocols/mitbih';
import { isTestBeat, type Protocol } from '../protocols/split';
import { getCodecs } from '../schemas/codec';
import { DEFAULT_SERVE_ENGINE_CONFIG } from '../serving/engine';
import { loadServingModel, ModelManager, weightsVersionOfModelDir } from '../serving/modelManager';
import { KafkaSampleHistory } from '../serving/sampleHistory';
import { loadTf, resolveBackendPreference } from '../tf/backend';
import {
  PAPER_TRAINING_CONFIG,
  parseDepthPair,
  validateTrainingConfig,
  type TrainingConfig,
} from '../trainer/config';
import { Progress } from '../util/progress';
import { AAMI_CLASSES } from '../wfdb/labels';
import { readHeader } from '../wfdb/record';
import { serveConfigFrom } from './serving';
import { beatsTopicFor, ensureBeatLog, trainOnce, type TrainingSummary } from './training';
import type { Observability } from './observability';

export interface MissionSettings {
  protocol: Protocol;
  /** "initial,final", 6n+2 each. */
  depth: string;
  epochs: number;
  limitBeats: number;
  /**
   * Records classified live; default: the protocol's test records among those replayed (inter: DS2;
   * intra: every record, whose test beats alone are scored).
   */
  serveRecords?: readonly string[];
  serveSpeed: number | 'max';
  /** Give the trained model the prematurity rule for S beats (ecgflow decision) before it serves. */
  prematurityRule: boolean;
  outDir: string;
  tfBackend?: string;
}

export const DEFAULT_MISSION: Omit<MissionSettings, 'outDir'> = {
  protocol: 'inter',
  depth: '14,26',
  epochs: 4,
  limitBeats: 8000,
  serveSpeed: 25,
  prematurityRule: true,
};

export interface MissionSummary {
  beatLog: { topic: string; beats: number; seconds: number };
  training: TrainingSummary;
  live: LiveStageSummary;
}

/** The short training configuration of the main job. */
export function missionTrainingConfig(settings: Pick<MissionSettings, 'depth' | 'epochs'>): TrainingConfig {
  const [initialDepth, finalDepth] = parseDepthPair(settings.depth);
  return validateTrainingConfig({
    ...PAPER_TRAINING_CONFIG,
    initialDepth,
    finalDepth,
    epochs: settings.epochs,
    batchSize: 64,
    window: 1,
    reserve: Math.max(1, Math.floor(settings.epochs / 2) - 1),
    lipschitzIterations: 5,
    inputShape: [...SPECTROGRAM_INPUT_SHAPE] as [number, number, number],
    // Beats centred on the R-peak of the filtered signal: live beats come from patients the model has not
    // seen, and these carry across patients best (docs/benchmarks.md, inter-patient and main job).
    beats: { form: 'centred', filter: true, beatRateHz: SEED_PAPER_PREPARATION.beatRateHz },
    features: 'rr-morphology',
    classWeighting: 'sqrt',
  });
}

/** Which replayed records the live stage classifies. */
export function liveRecords(
  settings: Pick<MissionSettings, 'protocol' | 'serveRecords'>,
  replayed: readonly string[],
): string[] {
  if (settings.serveRecords !== undefined) return [...settings.serveRecords];
  if (settings.protocol === 'inter') return replayed.filter((r) => DE_CHAZAL_DS2.includes(r));
  return [...replayed];
}

export async function runMission(
  context: {
    bus: Bus;
    brokers: string[] | undefined;
    topics: TopicNames;
    topicPrefix: string;
    dataDir: string;
    records: string[];
    lead: string;
    obs: Observability;
    log: (line: string) => void;
  },
  settings: MissionSettings,
): Promise<MissionSummary> {
  const { bus, brokers, topics, obs, log } = context;
  const metrics: Metrics = obs.metrics;
  if (settings.protocol === 'inter' && !context.records.some((r) => DE_CHAZAL_DS1.includes(r)))
    throw new ConfigError(
      'the inter-patient protocol trains on DS1 records, and none of them is among --records',
      'records',
    );
  const serveRecords = liveRecords(settings, context.records);
  if (serveRecords.length === 0)
    throw new ConfigError(
      `no records to classify live (protocol ${settings.protocol}: the test records among --records, or --serve-records)`,
      'serve-records',
    );
  const runtime = await loadTf({ prefer: resolveBackendPreference(settings.tfBackend) });
  metrics.setTfBackend(runtime.backend, runtime.tfVersion);

  // 2. The beat log, cut the way the model will read beats.
  const training = missionTrainingConfig(settings);
  const beatsTopic = beatsTopicFor(
    { topicPrefix: context.topicPrefix, protocol: settings.protocol },
    training.beats,
  );
  const beatsStart = Date.now();
  log(`run: stage 2/4: preprocess into the beat log ${beatsTopic} (protocol ${settings.protocol})`);
  const beats = await obs.attribute('preprocessing', () =>
    ensureBeatLog(bus, {
      topic: beatsTopic,
      beats: training.beats,
      protocol: settings.protocol,
      dataDir: context.dataDir,
      records: context.records,
      brokers,
      topicPrefix: context.topicPrefix,
    }),
  );
  const beatLog = { topic: beatsTopic, beats, seconds: (Date.now() - beatsStart) / 1000 };

  // 3. Adaptive training, short configuration.
  log(
    `run: stage 3/4: adaptive training, depth ${training.initialDepth} -> ${training.finalDepth}, ${training.epochs} epochs, about ${settings.limitBeats} beats, into ${settings.outDir}`,
  );
  const trained = await obs.attribute('training', () =>
    trainOnce(
      bus,
      {
        training,
        protocol: settings.protocol,
        beatsTopic,
        eventsTopic: topics.trainingEvents,
        deadLetterTopic: topics.deadLetter,
        outDir: settings.outDir,
        limitBeats: settings.limitBeats,
        shuffleCapacity: 10_000,
        resume: false,
      },
      runtime,
      metrics,
    ),
  );

  // 4. Live classification of the test records with the trained model.
  const modelDir = path.join(settings.outDir, 'model');
  // Inter-patient, the network alone finds few of another patient's S beats; the rule (bounds from DS1)
  // finds most. Intra-patient the network has seen the patients' own S beats and the rule would only add
  // false ones.
  if (
    settings.prematurityRule &&
    settings.protocol === 'inter' &&
    readsPrematurityInputs(featureNamesOf(training.features))
  ) {
    writeDecision(modelDir, { prematurity: PREMATURITY_RULE_DS1 });
    log(
      `run: ${describePrematurityRule(PREMATURITY_RULE_DS1)} (ecgflow decision; --no-prematurity-rule to leave it out)`,
    );
  }
  const expected = { inputShape: SPECTROGRAM_INPUT_SHAPE, classes: AAMI_CLASSES };
  const models = new ModelManager(
    loadServingModel(modelDir, weightsVersionOfModelDir(modelDir), expected),
    expected,
  );
  const groupId = `ecgflow-run-serve-${Date.now()}`;
  if (brokers !== undefined) {
    await bus.ensureTopics([{ topic: topics.samples, partitions: 6 }]);
    await positionGroupAtEnd(brokers, groupId, topics.samples);
    obs.watchConsumerLag(brokers, [{ groupId, topics: [topics.samples] }]);
  }
  const serve = serveConfigFrom(
    { ...DEFAULT_SERVE_ENGINE_CONFIG, asystoleSeconds: 4, vtMinBeats: 3, vtMinRate: 100 },
    topics,
  );
  const history =
    brokers !== undefined
      ? new KafkaSampleHistory(
          new KafkaPartitionReader(bus, brokers, `${groupId}-history`),
          getCodecs().SampleChunk,
          { lookBackMs: 35_000, maxMessages: 200_000, timeoutMs: 60_000 },
        )
      : undefined;
  let totalSamples = 0;
  for (const r of serveRecords) totalSamples += (await readHeader(context.dataDir, r)).frameCount ?? 0;
  log(
    `run: stage 4/4: live classification of ${serveRecords.length} record(s) replayed at ${settings.serveSpeed === 'max' ? 'maximum speed' : `${settings.serveSpeed}x real time`} with model ${models.current.version}`,
  );
  const progress = new Progress('live replay', totalSamples, ' samples', 5000);
  let predicted = 0;
  try {
    const live = await obs.attribute('inference', () =>
      runLiveStage(
        {
          dataDir: context.dataDir,
          records: serveRecords,
          speed: settings.serveSpeed,
          lead: context.lead,
          topics,
          groupId,
          serve,
          // Under the intra-patient protocol the model trained on most of every record's beats: only the
          // test beats are scored (inter: the served DS2 records are all test beats).
          scoredBeat: (record, sampleIndex) => isTestBeat(settings.protocol, record, sampleIndex),
        },
        bus,
        models,
        metrics,
        log,
        {
          history,
          onProgress: (n) => progress.tick(n),
          onPredictions: (n) => {
            predicted += n;
            if (predicted % 10_000 === 0) log(`live: ${predicted.toLocaleString('en-US')} beats classified`);
          },
        },
      ),
    );
    progress.finish();
    return { beatLog, training: trained, live };
  } finally {
    models.dispose();
  }
}
