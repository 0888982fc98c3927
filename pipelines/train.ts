/**
 * Pipeline `train`: beats topic -> decode -> training split -> STFT -> seeded shuffle buffer -> batches ->
 * adaptive (or vanilla) ResNet training; trainer events -> `ecg.training.events`; a checkpoint after every
 * epoch; the test split at the end.
 *
 * One epoch is one pass over the training split of the beat log as it stood when the run started (end
 * offsets fixed in run.json), read by a fresh consumer group, so the data set is fixed, reproducible and
 * resumable. Each consumed batch is decoded (beats that cannot be used go to the dead-letter topic, once
 * per process), its beats become examples, and the long-lived operator chain (shuffle buffer + batching) turns
 * them into training batches, which wait in a bounded prefetch queue for the train step; the consumed batch
 * is acked once its batches are queued, so the bus fetches the next while the queued ones train. Memory is
 * bounded by the shuffle buffer and the queue. Validation and test images are held as Float32Array slabs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bufferCount, pipe } from 'rxjs';
import { shuffleBuffer } from '../operators/shuffleBuffer';
import { beatProblem } from '../src/beats/beatProblem';
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Bus } from '../src/bus/types';
import type { StftConfig } from '../src/dsp/stft';
import {
  SEED_PAPER_PREPARATION,
  describePreparation,
  samePreparation,
  type BeatPreparation,
} from '../src/beats/preparation';
import { BeatLogChangedError, ConfigError, RunFileError } from '../src/errors';
import {
  confusionBySource,
  confusionMatrix,
  scoreConfusion,
  type ClassificationReport,
  type SourceReport,
} from '../src/evaluation/classification';
import type { Metrics } from '../src/metrics/registry';
import { recordTrainingEvent } from '../src/metrics/trainingMetrics';
import { rrRatioMaxOfConfig } from '../src/model/config';
import { readSavedConfig, saveResNet } from '../src/model/io';
import { readRunJson } from '../src/model/provenance';
import { getCodecs } from '../src/schemas/codec';
import { toTrainingEventMessage } from '../src/schemas/trainingEventMessage';
import { BoundedQueue } from '../src/stream/boundedQueue';
import { OperatorAdapter } from '../src/stream/operatorAdapter';
import { AdaptiveTrainer, type TrainerState } from '../src/trainer/adaptiveTrainer';
import {
  checkpointName,
  latestCheckpoint,
  loadCheckpoint,
  readCheckpointConfig,
  resumeDifferences,
  saveCheckpoint,
} from '../src/trainer/checkpoint';
import type { Protocol } from '../src/protocols/split';
import { writeFileAtomic } from '../src/util/atomicFile';
import { RR_RATIO_MAX, beatSchemaVersionNeeded } from '../src/trainer/beatFeatures';
import { classWeightsFor, type TrainingConfig } from '../src/trainer/config';
import type { TrainerEvent } from '../src/trainer/events';
import { ExampleEncoder, type ExampleSet, packBatch, type Example } from '../src/trainer/examples';
import { examplesFromImages, packSamples, SpectrogramWorker } from '../src/trainer/spectrogramWorker';
import type { BeatV1 } from '../src/schemas/types';
import { formatDuration } from '../src/util/output';
import { collectExamples, passOverBeatLog, splitOf, type BeatLog } from './beatExamples';

export interface TrainPipelineConfig {
  training: TrainingConfig;
  /** Training batches prepared ahead of the train step (>= 1): the prefetch queue's capacity. */
  prefetchBatches: number;
  /** Compute the training spectrograms in a worker thread, while the train step runs (src/trainer/spectrogramWorker.ts). */
  spectrogramWorker: boolean;
  /** The protocol whose splits the beat log carries: recorded in run.json for `evaluate` (src/model/provenance.ts). */
  protocol: Protocol;
  beatsTopic: string;
  eventsTopic: string;
  deadLetterTopic: string;
  runId: string;
  outDir: string;
  /** Use a deterministic subset of about this many beats of the log (all splits alike); all when undefined. */
  limitBeats: number | undefined;
  /** Capacity of the shuffle buffer (examples). */
  shuffleCapacity: number;
  beatSamples: number;
  stft: Partial<StftConfig>;
  /** Continue from the newest checkpoint in outDir. */
  resume: boolean;
  /**
   * Patient-wise validation: the training beats of these sources are held out as the validation set
   * (instead of, or besides, beats the protocol marked `validation`), so that validation measures what the
   * inter-patient test measures: unseen patients.
   */
  validationSources?: readonly string[];
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  examples: number;
  expected: number;
  loss: number;
  depth: number;
}

export interface TrainRunResult {
  runId: string;
  /** The configuration the run trained with (class weights filled in; a resumed run's own). */
  training: TrainingConfig;
  mode: string;
  backend: string;
  epochs: number;
  state: TrainerState;
  ppe: number;
  wallClockSeconds: number;
  finalDepth: number;
  finalParameters: number;
  growthEpochs: number[];
  lipschitzSecondsPerEpoch: number;
  dataset: {
    train: number[];
    validation: number[];
    test: number[];
    classes: string[];
    beatsInLog: number;
    fraction: number;
  };
  test: ClassificationReport | undefined;
  /** The test scores per source (record): where the errors come from. */
  testBySource: SourceReport[];
  finalTrainAccuracy: number;
  finalValidationAccuracy: number | null;
  /** The epoch with the best validation macro-F1 (its model in `<out>/model-best`); none without validation. */
  bestValidation: BestValidation | null;
  modelDir: string;
}

export interface BestValidation {
  epoch: number;
  macroF1: number;
  accuracy: number;
  depth: number;
}

interface RunFile {
  runId: string;
  beatsTopic: string;
  endOffsets: number[];
  fraction: number;
  /** Patient-wise validation sources (absent in run files from before it existed). */
  validationSources?: string[];
  /** How the run's beats were cut (absent in run files from before it existed: the seed paper's). */
  beats?: BeatPreparation;
  /** The beat log's protocol and the subset's seed (absent in run files from before they were recorded). */
  protocol?: Protocol;
  seed?: number;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A new run must not start in a directory that holds another one: its model, model-best, decision and
 * report would sit beside the new run.json and be taken for the new run's (by evaluate, serve, a resume).
 */
export function refuseFreshRunOver(outDir: string): void {
  const runFile = path.join(outDir, 'run.json');
  if (!fs.existsSync(runFile)) return;
  let runId = '';
  try {
    runId = ` ${String((JSON.parse(fs.readFileSync(runFile, 'utf8')) as { runId?: unknown }).runId)}`;
  } catch {
    // Unreadable: still another run's directory.
  }
  throw new ConfigError(
    `${outDir} holds run${runId} (run.json): add --resume to continue it, or give a new --out (or remove that directory) to start another`,
    'out',
  );
}

function readRunFile(file: string): RunFile {
  const r = readRunJson(file) as Partial<RunFile> | null;
  if (
    r === null ||
    typeof r !== 'object' ||
    typeof r.runId !== 'string' ||
    !Array.isArray(r.endOffsets) ||
    typeof r.fraction !== 'number'
  )
    throw new RunFileError('not a run file (runId, endOffsets and fraction expected)', { source: file });
  return r as RunFile;
}

export async function runTraining(
  config: TrainPipelineConfig,
  bus: Bus,
  eventsSink: BatchingSink,
  deadLetterSink: BatchingSink,
  metrics: Metrics,
  backend: string,
  log: (line: string) => void,
  onProgress: (p: TrainProgress) => void = () => undefined,
  /**
   * Just before each checkpoint is written (its directory name): where a caller records what goes with it.
   * Before, not after: a kill between the two then leaves a record without a checkpoint (harmless: a
   * resume uses an older checkpoint), never a checkpoint without its record.
   */
  beforeCheckpoint: (name: string) => void | Promise<void> = () => undefined,
): Promise<TrainRunResult> {
  fs.mkdirSync(config.outDir, { recursive: true });
  // Capped: the queue holds packed images, and a large one would let reading run an epoch ahead.
  if (!(
    Number.isInteger(config.prefetchBatches) &&
    config.prefetchBatches >= 1 &&
    config.prefetchBatches <= 64
  ))
    throw new ConfigError(
      `prefetch batches must be an integer in [1, 64], got ${config.prefetchBatches}`,
      'prefetch-batches',
    );
  const runFilePath = path.join(config.outDir, 'run.json');
  let run: RunFile;
  if (!config.resume) refuseFreshRunOver(config.outDir);
  if (config.resume && fs.existsSync(runFilePath)) {
    run = readRunFile(runFilePath);
    const runBeats = run.beats ?? SEED_PAPER_PREPARATION;
    if (!samePreparation(runBeats, config.training.beats))
      throw new ConfigError(
        `run ${run.runId} in ${config.outDir} trains on beats cut ${describePreparation(runBeats)}, not ${describePreparation(config.training.beats)}: resume with the same --beat-form and --filter`,
        'beat-form',
      );
    if (run.protocol !== undefined && run.protocol !== config.protocol)
      throw new ConfigError(
        `run ${run.runId} in ${config.outDir} trains under the ${run.protocol} protocol, not ${config.protocol}: resume with --protocol ${run.protocol}`,
        'protocol',
      );
    if (run.beatsTopic !== config.beatsTopic)
      throw new ConfigError(
        `run ${run.runId} in ${config.outDir} reads the beat log ${run.beatsTopic}, not ${config.beatsTopic}: resume with the same --beats-topic and --topic-prefix`,
        'beats-topic',
      );
    log(`train: resuming run ${run.runId} from ${config.outDir}`);
  } else {
    const endOffsets = await bus.endOffsets(config.beatsTopic);
    const beatsInLog = endOffsets.reduce((a, b) => a + b, 0);
    if (beatsInLog === 0)
      throw new ConfigError(
        `the beats topic ${config.beatsTopic} is empty: build beats first (ecgflow beats build)`,
        'beats-topic',
      );
    const fraction = config.limitBeats === undefined ? 1 : Math.min(1, config.limitBeats / beatsInLog);
    run = {
      runId: config.runId,
      beatsTopic: config.beatsTopic,
      endOffsets,
      fraction,
      validationSources: [...(config.validationSources ?? [])],
      beats: config.training.beats,
      protocol: config.protocol,
      seed: config.training.seed,
    };
    writeFileAtomic(runFilePath, JSON.stringify(run, null, 1));
  }
  const beatsInLog = run.endOffsets.reduce((a, b) => a + b, 0);
  const seed = config.training.seed;
  // A resumed run reads its features the way its checkpoint's model was trained (a checkpoint from before
  // the RR ratio cap existed: the legacy cap); a fresh one the current way.
  const checkpointDir = config.resume ? latestCheckpoint(config.outDir) : undefined;
  if (checkpointDir !== undefined) {
    const differences = resumeDifferences(readCheckpointConfig(checkpointDir), config.training);
    if (differences.length > 0)
      throw new ConfigError(
        `run ${run.runId} in ${config.outDir} was trained with other settings (${differences.join(', ')}): resume with the flags it was started with`,
        'resume',
      );
  } else if (run.seed !== undefined && run.seed !== config.training.seed) {
    // A run killed in its first epoch has no checkpoint to compare settings with, and its beat subset is
    // drawn with this seed.
    throw new ConfigError(
      `run ${run.runId} in ${config.outDir} was started with --seed ${run.seed}, not ${config.training.seed}: resume with --seed ${run.seed}`,
      'seed',
    );
  }
  const rrRatioMax =
    checkpointDir === undefined
      ? RR_RATIO_MAX
      : rrRatioMaxOfConfig(readSavedConfig(path.join(checkpointDir, 'model')));
  const encoder = new ExampleEncoder(
    config.beatSamples,
    config.stft,
    undefined,
    config.training.features,
    rrRatioMax,
  );
  const [h, w] = encoder.imageShape;
  const [mh, mw] = config.training.inputShape;
  if (h !== mh || w !== mw)
    throw new ConfigError(`spectrograms are ${h}x${w} but the model expects ${mh}x${mw}`, 'stft');
  const numClasses = encoder.classes.length;
  const beatLog: BeatLog = {
    bus,
    topic: config.beatsTopic,
    endOffsets: run.endOffsets,
    fraction: run.fraction,
    seed,
    // A process reads the log epochs + 2 times: each bad beat is dead-lettered (and counted) once in it.
    deadLetters: new DeadLetterWriter(
      deadLetterSink,
      config.deadLetterTopic,
      'train',
      { inc: (labels) => metrics.deadLetters.inc(labels) },
      { oncePerMessage: true },
    ),
    deadLetterSink,
    heldOut: new Set(run.validationSources ?? []),
    validate: (beat) => beatProblem(beat, encoder.beatSamples),
  };
  let pass = 0;
  const groupId = (purpose: string) => `${run.runId}-${purpose}-${pass++}-${Date.now()}`;

  // Held-out validation images, and the size of every split (for progress and the report), in one pass.
  const scan = await collectExamples(beatLog, groupId('scan'), encoder, new Set(['validation']));
  const validation = scan.sets.get('validation') as ExampleSet;
  const trainCounts = scan.counts.get('train') ?? new Array<number>(numClasses).fill(0);
  const trainTotal = trainCounts.reduce((a, b) => a + b, 0);
  if (trainTotal === 0)
    throw new ConfigError(
      `no training beats in ${config.beatsTopic} (is the split assigned?)`,
      'beats-topic',
    );
  const unknownHeldOut = [...beatLog.heldOut].filter((source) => !scan.sources.has(source));
  if (unknownHeldOut.length > 0) {
    throw new ConfigError(
      `validation record(s) ${unknownHeldOut.join(', ')} have no beats in ${config.beatsTopic} (sources there: ${[...scan.sources].sort().join(' ')})`,
      'validation-records',
    );
  }
  if (scan.tooOldForFeatures > 0) {
    throw new ConfigError(
      `${scan.tooOldForFeatures} beats of ${config.beatsTopic} were written before beat schema v${beatSchemaVersionNeeded(config.training.features)} and lack inputs of --features ${config.training.features}: rebuild the beat log (delete the topic, or pass another --beats-topic)`,
      'beats-topic',
    );
  }
  log(
    `train: ${beatsInLog.toLocaleString('en-US')} beats in the log, using ${(run.fraction * 100).toFixed(1)} %: ${trainTotal} train (${encoder.classes.map((c, i) => `${c} ${trainCounts[i]}`).join(', ')}), ${validation.count} validation${beatLog.heldOut.size > 0 ? ` (patient-wise: ${[...beatLog.heldOut].join(' ')})` : ''}`,
  );

  // The trainer, fresh or from the newest checkpoint. Class weights come from this run's training split.
  const training: TrainingConfig = {
    ...config.training,
    classWeights: classWeightsFor(
      config.training.classWeighting,
      trainCounts,
      config.training.maxClassWeight,
    ),
  };
  if (training.classWeights !== null)
    log(
      `train: class weights ${encoder.classes.map((c, i) => `${c} ${training.classWeights?.[i].toFixed(2)}`).join(', ')}`,
    );
  const trainer =
    checkpointDir === undefined
      ? new AdaptiveTrainer(training, backend)
      : loadCheckpoint(checkpointDir, backend).trainer;
  if (checkpointDir !== undefined) log(`train: resumed from ${checkpointDir} at epoch ${trainer.nextEpoch}`);
  const pendingEvents: TrainerEvent[] = [];
  const mode = config.training.mode;
  const eventsSubscription = trainer.events$.subscribe((e) => {
    pendingEvents.push(e);
    recordTrainingEvent(metrics, mode, e, trainer.ppe);
  });
  const publishEvents = async (): Promise<void> => {
    for (const e of pendingEvents.splice(0)) {
      await eventsSink.write(config.eventsTopic, {
        key: run.runId,
        value: getCodecs().TrainingEvent.encode(toTrainingEventMessage(run.runId, e)),
      });
    }
    await eventsSink.flush();
  };

  // The best epoch by validation macro-F1 (patient-wise validation makes it the early-stopping choice):
  // its model in model-best/, its figures in best-validation.json (written after the model, and read back
  // on --resume so that a resumed run keeps comparing against it).
  const bestModelDir = path.join(config.outDir, 'model-best');
  const bestFile = path.join(config.outDir, 'best-validation.json');
  let best: BestValidation | undefined =
    config.resume && fs.existsSync(bestFile)
      ? (JSON.parse(fs.readFileSync(bestFile, 'utf8')) as BestValidation)
      : undefined;
  const keepBest = async (
    current: BestValidation | undefined,
    epoch: number,
    val: { accuracy: number; predictions: Int32Array },
    labels: Int32Array,
  ): Promise<BestValidation | undefined> => {
    const { macroF1 } = scoreConfusion(confusionMatrix(labels, val.predictions, numClasses), encoder.classes);
    if (current !== undefined && macroF1 <= current.macroF1) return current;
    await saveResNet(trainer.model, bestModelDir);
    const next: BestValidation = { epoch, macroF1, accuracy: val.accuracy, depth: trainer.model.depth };
    fs.writeFileSync(bestFile, JSON.stringify(next, null, 1));
    return next;
  };

  const spectrograms = config.spectrogramWorker
    ? new SpectrogramWorker({ stft: encoder.stftConfig, beatSamples: encoder.beatSamples })
    : undefined;
  /** A consumed batch's training examples, in the order of its beats (the worker keeps it). */
  const trainingExamples = async (beats: readonly BeatV1[]): Promise<Example[]> => {
    const train = beats.filter(
      (beat) => splitOf(beatLog, beat) === 'train' && encoder.labelOf(beat.aamiClass) !== undefined,
    );
    if (spectrograms === undefined || train.length === 0)
      return train.flatMap((beat) => encoder.encode(beat) ?? []);
    // Validated beats (beatProblem) all have beatSamples samples, so they pack back to back.
    const images = await spectrograms.images(packSamples(train, encoder.beatSamples), train.length);
    return examplesFromImages(encoder, train, images);
  };

  try {
    while (!trainer.finished) {
      const { epoch } = trainer.beginEpoch();
      // A new shuffle order every epoch, reproducible from (seed, epoch) alone, so a resumed run matches.
      const chain = new OperatorAdapter<Example, Example[]>(
        pipe(
          shuffleBuffer<Example>(config.shuffleCapacity, (seed * 7919 + epoch) >>> 0),
          bufferCount<Example>(config.training.batchSize),
        ),
      );
      let examples = 0;
      const examplesPerClass = new Array<number>(numClasses).fill(0);
      let lastLoss = NaN;
      // Prefetch: reading, decoding, spectrograms and shuffling run ahead of the train steps by at most
      // `prefetchBatches` training batches. A consumed batch is acked once its examples are in the chain,
      // so the bus fetches the next one while the queued batches train (an epoch is re-read from its start
      // after a crash, so acking before training loses nothing).
      const ready = new BoundedQueue<Example[]>(config.prefetchBatches);
      const reading = (async () => {
        try {
          await passOverBeatLog(beatLog, groupId(`epoch${epoch}`), async (beats) => {
            ready.throwIfFailed(); // the train side failed: stop reading now, not at the next put
            const batchExamples = await trainingExamples(beats);
            for (const b of chain.process(batchExamples)) await ready.put(b);
          });
          for (const b of chain.end()) await ready.put(b);
          ready.close();
        } catch (err) {
          ready.fail(err);
          throw err;
        }
      })();
      // Handled here at once: it may fail while the train side waits on a timer, not on it; the error
      // still reaches `await reading` (or the train side, through the queue).
      reading.catch(() => undefined);
      try {
        for (let b = await ready.take(); b !== undefined; b = await ready.take()) {
          ready.throwIfFailed(); // handed over just before the reading side failed: do not train on
          for (const e of b) examplesPerClass[e.label]++;
          lastLoss = trainer.trainBatch(packBatch(b, encoder.imageSize, encoder.featureCount)).loss;
          metrics.modelBatchSize.observe({ stage: 'train' }, b.length);
          metrics.beats.inc({ stage: 'train' }, b.length);
          examples += b.length;
          onProgress({
            epoch,
            epochs: config.training.epochs,
            examples,
            expected: trainTotal,
            loss: lastLoss,
            depth: trainer.model.depth,
          });
          // Let the reading side (fetch responses, decoding) and timers (heartbeats, metrics scrapes) run
          // between synchronous TensorFlow steps.
          await nextTurn();
        }
      } catch (err) {
        ready.fail(err); // the reading side stops at its next put instead of waiting for a taker
        await reading.catch(() => undefined);
        throw err;
      }
      await reading;
      // Every epoch is the same pass: fewer (or more) beats than the scan found means the log changed under
      // the run (retention, a rebuilt log), which would train on another data set without a word.
      if (examplesPerClass.some((n, k) => n !== trainCounts[k]))
        throw new BeatLogChangedError(
          `epoch ${epoch + 1} read training beats per class ${examplesPerClass.join('/')} where the run's first pass found ${trainCounts.join('/')} (${encoder.classes.join('/')}): the beat log changed since the run started`,
          config.beatsTopic,
        );
      const val =
        validation.count > 0
          ? trainer.evaluate(validation.images, validation.labels, validation.count, validation.features)
          : undefined;
      if (val !== undefined) best = await keepBest(best, epoch, val, validation.labels);
      const emitted = trainer.endEpoch(
        val === undefined ? undefined : { loss: val.loss, accuracy: val.accuracy },
      );
      for (const e of emitted) {
        if (e.kind === 'epoch') {
          log(
            `train: epoch ${e.epoch + 1}/${config.training.epochs} depth ${e.depth} lr ${e.learningRate.toFixed(4)} loss ${e.trainLoss.toFixed(4)} train acc ${(100 * e.trainAccuracy).toFixed(2)} %` +
              `${e.validationAccuracy === null ? '' : ` val acc ${(100 * e.validationAccuracy).toFixed(2)} %`} ${e.seconds.toFixed(1)} s`,
          );
        } else if (e.kind === 'growth') {
          log(
            `train: growth (${e.trigger}) at the end of epoch ${e.epoch + 1}: depth ${e.depthBefore} -> ${e.depthAfter}, ${e.parametersBefore} -> ${e.parametersAfter} parameters`,
          );
        }
      }
      // Paper-scale runs take hours: where the run stands, and what is left at this epoch's pace (a lower
      // bound until the final depth is reached, since deeper epochs take longer).
      const closed = emitted.find((e) => e.kind === 'epoch');
      if (closed !== undefined) {
        const left = config.training.epochs - trainer.nextEpoch;
        const deeperToCome = left > 0 && closed.depth < config.training.finalDepth;
        log(
          `train: ${formatDuration(closed.elapsedSeconds)} trained, ${left} epoch(s) left: ${deeperToCome ? 'at least ' : ''}${formatDuration(left * closed.seconds)} at this pace`,
        );
      }
      await beforeCheckpoint(checkpointName(trainer.nextEpoch - 1));
      await saveCheckpoint(config.outDir, trainer);
      await publishEvents();
    }

    // Test split, then the final model.
    const test = (await collectExamples(beatLog, groupId('test'), encoder, new Set(['test']))).sets.get(
      'test',
    ) as ExampleSet;
    let report: ClassificationReport | undefined;
    let testBySource: SourceReport[] = [];
    if (test.count > 0) {
      const result = trainer.evaluate(test.images, test.labels, test.count, test.features);
      report = scoreConfusion(confusionMatrix(test.labels, result.predictions, numClasses), encoder.classes);
      testBySource = confusionBySource(
        test.labels,
        result.predictions,
        test.sources,
        test.sourceNames,
        numClasses,
      );
      log(
        `train: test accuracy ${(100 * report.accuracy).toFixed(2)} %, macro-F1 ${report.macroF1.toFixed(4)} on ${test.count} beats`,
      );
    }
    const modelDir = path.join(config.outDir, 'model');
    await saveResNet(trainer.model, modelDir);
    const state = trainer.snapshot();
    const lastEpoch = state.epochs[state.epochs.length - 1];
    const lipschitzSeconds = state.lipschitz.map((l) => l.seconds);
    return {
      runId: run.runId,
      training: structuredClone(trainer.config),
      mode: config.training.mode,
      backend,
      epochs: config.training.epochs,
      state,
      ppe: trainer.ppe,
      wallClockSeconds: state.elapsedSeconds,
      finalDepth: trainer.model.depth,
      finalParameters: trainer.model.paramCount(),
      growthEpochs: state.growths.map((g) => g.epoch),
      lipschitzSecondsPerEpoch:
        lipschitzSeconds.length > 0
          ? lipschitzSeconds.reduce((a, b) => a + b, 0) / lipschitzSeconds.length
          : 0,
      dataset: {
        train: trainCounts,
        validation: validation.classCounts(numClasses),
        test: test.classCounts(numClasses),
        classes: [...encoder.classes],
        beatsInLog,
        fraction: run.fraction,
      },
      test: report,
      testBySource,
      finalTrainAccuracy: lastEpoch?.trainAccuracy ?? 0,
      finalValidationAccuracy: lastEpoch?.validationAccuracy ?? null,
      bestValidation: best ?? null,
      modelDir,
    };
  } finally {
    // The thread first: a failing dispose must not leave it keeping the process alive.
    await spectrograms?.close();
    eventsSubscription.unsubscribe();
    trainer.dispose();
  }
}
