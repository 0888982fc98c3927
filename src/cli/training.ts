/**
 * What `train`, `evaluate` and `bench adaptive-vs-vanilla` share: the training flags mapped onto one
 * TrainingConfig, the beat log of a protocol (built on demand by replay + preprocess onto the same bus),
 * and one training run from beats to report.
 */
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { refuseFreshRunOver, runTraining, type TrainRunResult } from '../../pipelines/train';
import { BatchingSink } from '../bus/sink';
import type { Bus } from '../bus/types';
import { ConfigError, RunFileError } from '../errors';
import { readRunJson } from '../model/provenance';
import { writeFileAtomic } from '../util/atomicFile';
import { sensitivityAndPredictivity } from '../evaluation/classification';
import { addEnergy, EnergyLedger, NO_ENERGY, type EnergyTotal } from '../energy/ledger';
import type { EnergyTracker } from '../energy/tracker';
import { latestCheckpoint } from '../trainer/checkpoint';
import type { TrainerState } from '../trainer/adaptiveTrainer';
import type { Metrics } from '../metrics/registry';
import { DEFAULT_SPLIT_SEED, type Protocol } from '../protocols/split';
import { writeRunPictures } from '../report/trainingReport';
import type { TfRuntime } from '../tf/backend';
import {
  SEED_PAPER_PREPARATION,
  beatLogSuffix,
  describePreparation,
  validatePreparation,
  type BeatPreparation,
} from '../beats/preparation';
import { BEAT_FORMS, type BeatForm } from '../dsp/beatWindows';
import { BEAT_FEATURE_SETS, type BeatFeatureSet } from '../trainer/beatFeatures';
import {
  CLASS_WEIGHTINGS,
  PAPER_TRAINING_CONFIG,
  parseDepthPair,
  type ClassWeighting,
  validateTrainingConfig,
  type TrainingConfig,
  type TrainingMode,
  WEIGHT_DECAY_ON,
  type WeightDecayOn,
} from '../trainer/config';
import { log } from '../util/output';
import { Progress } from '../util/progress';
import { copyInCanonicalOrder } from '../beats/canonicalOrder';
import { buildBeats } from './commands/beats';
import { parseFraction, parsePositiveNumber, resolveRecords } from './options';
import { splitList } from '../util/list';

export interface TrainingFlags {
  depth: string;
  protocol: Protocol;
  epochs: number;
  batchSize: number;
  lr: number;
  lrMin: number;
  momentum: number;
  weightDecay: number;
  weightDecayOn: WeightDecayOn;
  rTol: number;
  window: number;
  reserve: number;
  lipschitzIterations: number;
  seed: number;
  limitBeats?: number;
  shuffleBuffer: number;
  prefetchBatches: number;
  spectrogramWorker: SpectrogramWorkerChoice;
  beatForm: BeatForm;
  filter?: boolean;
  features: BeatFeatureSet;
  headHidden: number;
  imageDropout: number;
  classWeights: ClassWeighting;
  maxClassWeight: number;
  validationRecords?: string;
  records: string;
  beatsTopic?: string;
  topicPrefix: string;
  tfBackend?: string;
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`"${v}" is not a non-negative integer`, name);
  return n;
};

/** The flags of a training run, defaulting to the seed paper's protocol. */
export function addTrainingOptions(cmd: Command, defaults: Partial<TrainingFlags> = {}): Command {
  const p = PAPER_TRAINING_CONFIG;
  return cmd
    .option(
      '--depth <initial,final>',
      'depth pair, 6n+2 each, final = initial with n doubled per growth',
      defaults.depth ?? `${p.initialDepth},${p.finalDepth}`,
    )
    .addOption(
      new Option('--protocol <name>', 'evaluation protocol')
        .choices(['intra', 'inter'])
        .default(defaults.protocol ?? 'intra'),
    )
    .option('--epochs <n>', 'epochs E', int('epochs'), defaults.epochs ?? p.epochs)
    .option('--batch-size <n>', 'training batch size', int('batch-size'), defaults.batchSize ?? p.batchSize)
    .option('--lr <x>', 'peak learning rate', parsePositiveNumber('lr'), p.lrMax)
    .option('--lr-min <x>', 'final learning rate of the cosine', Number, p.lrMin)
    .option('--momentum <x>', 'SGD momentum', Number, p.momentum)
    .option('--weight-decay <x>', 'L2 weight decay (on what --weight-decay-on says)', Number, p.weightDecay)
    .addOption(
      new Option(
        '--weight-decay-on <what>',
        'kernels (conv and dense kernels) or all (every trainable variable, BN gamma/beta too, as the reference code)',
      )
        .choices([...WEIGHT_DECAY_ON])
        .default(p.weightDecayOn),
    )
    .option(
      '--r-tol <x>',
      'growth threshold on smoothed / reference Lipschitz',
      parsePositiveNumber('r-tol'),
      p.rTol,
    )
    .option(
      '--window <n>',
      'Lipschitz moving-average window W (epochs)',
      int('window'),
      defaults.window ?? p.window,
    )
    .option(
      '--reserve <n>',
      'epochs guaranteed to the final depth',
      int('reserve'),
      defaults.reserve ?? p.reserve,
    )
    .option(
      '--lipschitz-iterations <n>',
      'power iterations per conv per epoch (warm-started)',
      int('lipschitz-iterations'),
      p.lipschitzIterations,
    )
    .option('--seed <n>', 'seed of initialisation, shuffling and subsetting', int('seed'), p.seed)
    .option(
      '--limit-beats <n>',
      'train on a deterministic subset of about N beats (all splits alike)',
      int('limit-beats'),
      defaults.limitBeats,
    )
    .option('--shuffle-buffer <n>', 'shuffle buffer capacity (examples)', int('shuffle-buffer'), 20_000)
    .option(
      '--prefetch-batches <n>',
      'training batches read and prepared ahead of the train step',
      int('prefetch-batches'),
      PREFETCH_BATCHES,
    )
    .addOption(
      new Option(
        '--spectrogram-worker <when>',
        'compute training spectrograms in a worker thread while the train step runs: auto = when TensorFlow runs on a GPU device',
      )
        .choices([...SPECTROGRAM_WORKER_CHOICES])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--beat-form <form>',
        'how beats are cut: kachuee (seed paper: from the R-peak, 1.2 x median RR) or centred (on the R-peak, whole QRS); saved with the model',
      )
        .choices([...BEAT_FORMS])
        .default(defaults.beatForm ?? p.beats.form),
    )
    .option(
      '--filter',
      'baseline-wander and noise filtering before segmentation (the seed paper: none); saved with the model',
      defaults.filter ?? p.beats.filter,
    )
    .addOption(
      new Option(
        '--features <set>',
        "scalar features beside the spectrogram: none (seed paper), rr (RR intervals), rr-morphology (RR and shape vs the patient's own beat), rr-morphology-qrs (those plus the QRS complex's shape and width vs the patient's own) or rr-morphology-qrs-p (those plus the P-wave span vs the patient's own; needs --beat-form centred)",
      )
        .choices([...BEAT_FEATURE_SETS])
        .default(defaults.features ?? p.features),
    )
    .option(
      '--head-hidden <units>',
      'hidden ReLU units in the classifier head, so image and scalar features can interact (seed paper: 0, linear head); saved with the model',
      int('head-hidden'),
      defaults.headHidden ?? p.headHiddenUnits,
    )
    .option(
      '--image-dropout <fraction>',
      'fraction of training beats classified from the scalar features alone (pooled image zeroed), so the head learns to heed them (seed paper: 0); needs --features',
      parseFraction('image-dropout'),
      p.imageDropout,
    )
    .addOption(
      new Option(
        '--class-weights <how>',
        'loss weight per class: none (seed paper), sqrt or balanced inverse frequency',
      )
        .choices([...CLASS_WEIGHTINGS])
        .default(defaults.classWeights ?? p.classWeighting),
    )
    .option(
      '--max-class-weight <x>',
      'cap on a class weight',
      parsePositiveNumber('max-class-weight'),
      p.maxClassWeight,
    )
    .option(
      '--validation-records <list>',
      "patient-wise validation: these records' training beats are held out for validation instead",
    )
    .option('--records <list>', '"all" or record names to build the beat log from', 'all')
    .option(
      '--beats-topic <topic>',
      'train on this existing beat log (default: <prefix>ecg.beats.<protocol>[.<form>-filtered], built when empty)',
    )
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '')
    .option('--tf-backend <name>', 'auto, native, gpu or js (env ECGFLOW_TF_BACKEND)');
}

export function trainingConfigFrom(
  flags: TrainingFlags,
  mode: TrainingMode,
  inputShape: [number, number, number],
): TrainingConfig {
  const [initialDepth, finalDepth] = parseDepthPair(flags.depth);
  return validateTrainingConfig({
    ...PAPER_TRAINING_CONFIG,
    mode,
    initialDepth,
    finalDepth,
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    lrMax: flags.lr,
    lrMin: flags.lrMin,
    momentum: flags.momentum,
    weightDecay: flags.weightDecay,
    weightDecayOn: flags.weightDecayOn,
    rTol: flags.rTol,
    window: flags.window,
    reserve: flags.reserve,
    lipschitzIterations: flags.lipschitzIterations,
    seed: flags.seed,
    inputShape,
    beats: preparationFrom(flags),
    features: flags.features,
    headHiddenUnits: flags.headHidden,
    imageDropout: flags.imageDropout,
    classWeighting: flags.classWeights,
    maxClassWeight: flags.maxClassWeight,
    classWeights: null,
  });
}

/** The records of `--validation-records` (comma-separated), or undefined. */
export function validationRecordsFrom(flags: Pick<TrainingFlags, 'validationRecords'>): string[] | undefined {
  if (flags.validationRecords === undefined) return undefined;
  const list = splitList(flags.validationRecords);
  if (list.length === 0)
    throw new ConfigError('--validation-records needs at least one record name', 'validation-records');
  return list;
}

/** The beat preparation of `--beat-form` and `--filter` (at the seed paper's 125 Hz). */
export function preparationFrom(flags: Pick<TrainingFlags, 'beatForm' | 'filter'>): BeatPreparation {
  return validatePreparation({
    form: flags.beatForm,
    filter: flags.filter === true,
    beatRateHz: SEED_PAPER_PREPARATION.beatRateHz,
  });
}

/**
 * `--beats-topic`, or the default log of the protocol and beat preparation:
 * `<prefix>ecg.beats.<protocol>` for the seed paper's beats, with a suffix such as `.centred-filtered` else.
 */
export function beatsTopicFor(
  flags: Pick<TrainingFlags, 'beatsTopic' | 'topicPrefix' | 'protocol'>,
  beats: BeatPreparation = SEED_PAPER_PREPARATION,
): string {
  return flags.beatsTopic ?? `${flags.topicPrefix}ecg.beats.${flags.protocol}${beatLogSuffix(beats)}`;
}

/**
 * The beat log a command's flags name (`--beats-topic`, or the default of `beatsTopicFor`), built from the
 * records `--records` names with the given preparation when it is empty. Returns the topic.
 */
export async function prepareBeatLog(
  bus: Bus,
  flags: Pick<TrainingFlags, 'beatsTopic' | 'topicPrefix' | 'protocol' | 'records'>,
  dataDir: string,
  brokers: string[] | undefined,
  beats: BeatPreparation = SEED_PAPER_PREPARATION,
): Promise<string> {
  const topic = beatsTopicFor(flags, beats);
  const records = await resolveRecords(flags.records, dataDir);
  await ensureBeatLog(bus, {
    topic,
    beats,
    protocol: flags.protocol,
    dataDir,
    records,
    brokers,
    topicPrefix: flags.topicPrefix,
  });
  return topic;
}

/** Make sure the protocol's beat log exists on `bus`: build it from the database when it is empty. */
export async function ensureBeatLog(
  bus: Bus,
  options: {
    topic: string;
    /** How to cut the beats when the log has to be built. */
    beats: BeatPreparation;
    protocol: Protocol;
    dataDir: string;
    records: string[];
    brokers: string[] | undefined;
    topicPrefix: string;
  },
): Promise<number> {
  await bus.ensureTopics([{ topic: options.topic, partitions: 6 }]);
  const existing = (await bus.endOffsets(options.topic)).reduce((a, b) => a + b, 0);
  if (existing > 0) {
    log(
      `beat log ${options.topic}: ${existing.toLocaleString('en-US')} beats already there, used as they are`,
    );
    return existing;
  }
  log(
    `beat log ${options.topic} is empty: building it (replay -> preprocess, protocol ${options.protocol}, beats ${describePreparation(options.beats)})`,
  );
  // In process, the log is rebuilt by every run: built aside, then copied in a canonical order, so that
  // every rebuild (a second run, a resume) is the same sequence and a seed gives the same batches.
  const canonical = bus.kind === 'memory';
  const builtTopic = canonical ? `${options.topic}.unordered` : options.topic;
  const summary = await buildBeats({
    protocol: options.protocol,
    seed: DEFAULT_SPLIT_SEED,
    form: options.beats.form,
    filter: options.beats.filter,
    beatRateHz: options.beats.beatRateHz,
    lead: 'MLII',
    topicPrefix: options.topicPrefix,
    timeoutSeconds: 1800,
    dataDir: options.dataDir,
    brokers: options.brokers,
    records: options.records,
    bus,
    beatsTopic: builtTopic,
  });
  if (!summary.verified)
    throw new ConfigError('the beat log could not be verified after building it', 'beats-topic');
  if (canonical) {
    try {
      const copied = await copyInCanonicalOrder(bus, builtTopic, options.topic);
      if (copied !== summary.beats)
        throw new ConfigError(
          `the canonical copy of the beat log holds ${copied} beats where the build wrote ${summary.beats}`,
          'beats-topic',
        );
    } catch (err) {
      // A partial copy would pass for a built log at the next ensureBeatLog in this process.
      await bus.deleteTopics([options.topic]);
      throw err;
    } finally {
      await bus.deleteTopics([builtTopic]);
    }
  }
  return summary.beats;
}

/** What `<out>/report.json` holds beyond the run's summary. */
export interface TrainingReportFile extends TrainingSummary {
  config: TrainingConfig;
  history: TrainerState;
  test: unknown;
  testBySource: unknown;
}

/** A finished run's report.json, split into its summary (as `trainOnce` returned it) and its history. */
export function readTrainingReport(file: string): { summary: TrainingSummary; history: TrainerState } {
  const report = readRunJson(file) as TrainingReportFile;
  if (typeof report !== 'object' || report === null || typeof report.history !== 'object')
    throw new RunFileError('not a training report (history expected)', { source: file });
  const { config: _config, history, test: _test, testBySource: _bySource, ...summary } = report;
  return { summary, history };
}

export interface TrainingSummary {
  runId: string;
  mode: string;
  protocol: Protocol;
  depths: [number, number];
  epochs: number;
  backend: string;
  tfVersion: string;
  threads: number | null;
  ppe: number;
  wallClockSeconds: number;
  growthEpochs: number[];
  finalDepth: number;
  finalParameters: number;
  trainAccuracy: number;
  validationAccuracy: number | null;
  /** The best epoch by validation macro-F1, saved in `<out>/model-best`; null without validation. */
  bestValidation: TrainRunResult['bestValidation'];
  testAccuracy: number | null;
  macroF1: number | null;
  perClass: {
    className: string;
    support: number;
    precision: number | null;
    recall: number | null;
    f1: number | null;
  }[];
  sSe: number | null;
  sPpv: number | null;
  /** Energy of this run (PUE applied) and its CO2-equivalent, as the seed paper's Table III reports. */
  energyKwh: number | null;
  co2eqGrams: number | null;
  energyMethod: string | null;
  energyEstimated: boolean | null;
  vSe: number | null;
  vPpv: number | null;
  lipschitzSecondsPerEpoch: number;
  dataset: TrainRunResult['dataset'];
  outDir: string;
  pictures: string[];
}

/**
 * The depths a run trained at, as printed in summaries: "20 -> 74" for an adaptive run, "74" for a vanilla
 * one, which trains its final depth from the first epoch and never passes through the configured initial one.
 */
export function describeDepths(
  s: Pick<TrainingSummary, 'mode' | 'depths' | 'finalDepth'>,
  arrow = ' -> ',
): string {
  return s.mode === 'vanilla' ? String(s.finalDepth) : `${s.depths[0]}${arrow}${s.finalDepth}`;
}

/**
 * Training batches read and prepared ahead of the train step: enough to cover a fetch round trip and the
 * spectrograms of a consumed batch (up to 4 x 128 beats), little memory (4 x 128 x 17 x 39 floats).
 */
export const PREFETCH_BATCHES = 4;

export const SPECTROGRAM_WORKER_CHOICES = ['auto', 'on', 'off'] as const;
export type SpectrogramWorkerChoice = (typeof SPECTROGRAM_WORKER_CHOICES)[number];

/**
 * Whether training spectrograms go to a worker thread. `auto`: on a GPU device, where a step is short and
 * the STFT on the main thread would be a large share of it; not on a CPU backend, whose train step already
 * keeps every core busy (measured: docs/benchmarks.md).
 */
export function useSpectrogramWorker(
  choice: SpectrogramWorkerChoice,
  runtime: Pick<TfRuntime, 'gpuDevice'>,
): boolean {
  // gpuDevice, not the package: tfjs-node-gpu without a usable GPU runs CPU kernels.
  return choice === 'on' || (choice === 'auto' && runtime.gpuDevice);
}

/** One training run on `bus` from an existing beat log; writes report.json and pictures into outDir. */
export async function trainOnce(
  bus: Bus,
  options: {
    training: TrainingConfig;
    protocol: Protocol;
    beatsTopic: string;
    eventsTopic: string;
    deadLetterTopic: string;
    outDir: string;
    limitBeats?: number;
    shuffleCapacity: number;
    /** Training batches prepared ahead of the train step (default PREFETCH_BATCHES). */
    prefetchBatches?: number;
    /** Training spectrograms in a worker thread (default auto). */
    spectrogramWorker?: SpectrogramWorkerChoice;
    resume: boolean;
    /** Patient-wise validation: these sources' training beats are held out. */
    validationSources?: string[];
  },
  runtime: TfRuntime,
  metrics: Metrics,
  energy?: Pick<EnergyTracker, 'begin'>,
): Promise<TrainingSummary> {
  // Energy over sessions: a resumed run starts from what the ledger recorded with its checkpoint (unknown
  // when the checkpoint predates the ledger: then the report says null rather than one session's share).
  // Before anything is written there (the energy ledger is reset below).
  if (!options.resume) refuseFreshRunOver(options.outDir);
  const ledger = new EnergyLedger(path.join(options.outDir, 'energy.json'));
  const resumeFrom = options.resume ? latestCheckpoint(options.outDir) : undefined;
  if (resumeFrom === undefined) ledger.reset();
  const before: EnergyTotal | undefined =
    resumeFrom === undefined ? NO_ENERGY : ledger.at(path.basename(resumeFrom));
  if (before === undefined && energy !== undefined)
    log(
      `train: no energy recorded with ${resumeFrom}; the report's energy stays empty (only this session would be counted)`,
    );
  const span = energy?.begin('training');
  const eventsSink = new BatchingSink(await bus.producer());
  const deadLetterSink = new BatchingSink(await bus.producer());
  await bus.ensureTopics([
    { topic: options.eventsTopic, partitions: 1 },
    { topic: options.deadLetterTopic, partitions: 1 },
  ]);
  const runId = `${options.training.mode}-${Date.now()}-${process.pid}`;
  let progress: Progress | undefined;
  let progressEpoch = -1;
  try {
    const result = await runTraining(
      {
        training: options.training,
        prefetchBatches: options.prefetchBatches ?? PREFETCH_BATCHES,
        spectrogramWorker: useSpectrogramWorker(options.spectrogramWorker ?? 'auto', runtime),
        protocol: options.protocol,
        beatsTopic: options.beatsTopic,
        eventsTopic: options.eventsTopic,
        deadLetterTopic: options.deadLetterTopic,
        runId,
        outDir: options.outDir,
        limitBeats: options.limitBeats,
        shuffleCapacity: options.shuffleCapacity,
        validationSources: options.validationSources,
        beatSamples: 187,
        stft: {},
        resume: options.resume,
      },
      bus,
      eventsSink,
      deadLetterSink,
      metrics,
      runtime.backend,
      log,
      (p) => {
        if (p.epoch !== progressEpoch) {
          progress?.finish();
          progress = new Progress(
            `${options.training.mode} epoch ${p.epoch + 1}/${p.epochs} depth ${p.depth}`,
            p.expected,
            ' beats',
            5000,
          );
          progressEpoch = p.epoch;
        }
        progress?.update(p.examples);
      },
      async (checkpoint) => {
        if (span === undefined || before === undefined) return;
        ledger.record(checkpoint, addEnergy(before, await span.peek()));
      },
    );
    progress?.finish();
    const sessionEnergy = await span?.end();
    const energyTotal =
      sessionEnergy === undefined || before === undefined ? undefined : addEnergy(before, sessionEnergy);
    const pictures = writeRunPictures(path.join(options.outDir, 'report'), {
      mode: options.training.mode,
      state: result.state,
      test: result.test,
    });
    const s = result.test === undefined ? undefined : sensitivityAndPredictivity(result.test, 'S');
    const v = result.test === undefined ? undefined : sensitivityAndPredictivity(result.test, 'V');
    const summary: TrainingSummary = {
      runId: result.runId,
      mode: result.mode,
      protocol: options.protocol,
      depths: [options.training.initialDepth, options.training.finalDepth],
      epochs: result.epochs,
      backend: runtime.backend,
      tfVersion: runtime.tfVersion,
      threads: runtime.threads ?? null,
      ppe: result.ppe,
      wallClockSeconds: result.wallClockSeconds,
      growthEpochs: result.growthEpochs,
      finalDepth: result.finalDepth,
      finalParameters: result.finalParameters,
      trainAccuracy: result.finalTrainAccuracy,
      validationAccuracy: result.finalValidationAccuracy,
      bestValidation: result.bestValidation,
      testAccuracy: result.test?.accuracy ?? null,
      macroF1: result.test?.macroF1 ?? null,
      perClass: (result.test?.perClass ?? []).map(({ className, support, precision, recall, f1 }) => ({
        className,
        support,
        precision,
        recall,
        f1,
      })),
      energyKwh: energyTotal?.energyKwh ?? null,
      co2eqGrams: energyTotal?.co2eqGrams ?? null,
      energyMethod: energyTotal?.method ?? null,
      energyEstimated: energyTotal?.estimated ?? null,
      sSe: s?.se ?? null,
      sPpv: s?.ppv ?? null,
      vSe: v?.se ?? null,
      vPpv: v?.ppv ?? null,
      lipschitzSecondsPerEpoch: result.lipschitzSecondsPerEpoch,
      dataset: result.dataset,
      outDir: options.outDir,
      pictures,
    };
    // Atomic: a benchmark's --resume takes an existing report.json for a finished mode.
    writeFileAtomic(
      path.join(options.outDir, 'report.json'),
      JSON.stringify(
        {
          ...summary,
          config: result.training,
          history: result.state,
          test: result.test,
          testBySource: result.testBySource,
        },
        null,
        1,
      ),
    );
    return summary;
  } finally {
    await span?.end();
    await eventsSink.close();
    await deadLetterSink.close();
  }
}
