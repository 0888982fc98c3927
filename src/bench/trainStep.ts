/**
 * `ecgflow bench train-step`: training images per second of the ResNet's real training step
 * (src/model/train.ts: forward, backward, SGD momentum + weight decay, running statistics) on the
 * spectrogram input shape, on TensorFlow's native kernels and on the pure-JS backend in the same run, plus
 * inference images per second. The input is a fixed synthetic batch, so the figures exclude data loading.
 *
 * Pure JS is about a thousand times slower (a batch of 128 takes minutes), so it runs a few steps of a
 * smaller batch within a time budget; its images/s is reported with the batch and step count it used.
 */
import { Option, type Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { blocksForDepth, resnetConfig, SPECTROGRAM_INPUT_SHAPE } from '../model/config';
import { InferenceSnapshot, predictLogits } from '../model/forward';
import { createInference } from '../model/inference';
import { ResNet } from '../model/resnet';
import { ResNetTrainer } from '../model/train';
import { loadTf, resolveBackendPreference, type TfRuntime } from '../tf/backend';
import { formatNumber, log, printJson, table } from '../util/output';
import { timeSpectrogramPrep, type SpectrogramPrepTimes } from './spectrogramPrep';
import { Progress } from '../util/progress';
import { addJsonOption, parsePositiveNumber } from '../cli/options';

/** Effective configuration of the benchmark (flags with defaults). */
export interface TrainStepBenchConfig {
  depth: number;
  batch: number;
  /** Timed native training steps (after `warmupSteps`). */
  steps: number;
  warmupSteps: number;
  /** Timed native inference batches (batch `inferenceBatch`). */
  inferenceBatches: number;
  inferenceBatch: number;
  /** Pure-JS run: batch, maximum steps and time budget (at least one step always runs). */
  jsBatch: number;
  jsSteps: number;
  jsBudgetSeconds: number;
  skipJs: boolean;
  backend: ReturnType<typeof resolveBackendPreference>;
  seed: number;
  json: boolean;
}

interface TimedRun {
  imagesPerSecond: number;
  steps: number;
  batch: number;
  seconds: number;
  stepMs: { median: number; min: number; max: number };
}

export interface TrainStepBenchResult {
  /** Native training images/s (null when no native backend loads). */
  native: number | null;
  /** Pure-JS training images/s (null with --no-js). */
  js: number | null;
  /** native / js. */
  ratio: number | null;
  /** Backend of the native run: tensorflow-gpu or tensorflow (cpu when none loaded). */
  backend: string;
  inputShape: [number, number, number];
  /** Inference images/s on the native backend, batch-norm folded into the convs, eager tfjs ops. */
  inferenceNative: number | null;
  /** The same folded model run as one TensorFlow graph (the graph engine, model/inference.ts). */
  inferenceNativeGraph: number | null;
  inferenceMsNativeGraph: TimedRun['stepMs'] | null;
  /** The same with plain batch-norm ops (running statistics, no folding). */
  inferenceNativeUnfolded: number | null;
  inferenceJs: number | null;
  /** Per-batch inference times (folded), ms: the median is robust to bursts of load from other processes. */
  inferenceMsNative: TimedRun['stepMs'] | null;
  depth: number;
  params: number;
  batch: number;
  steps: number;
  stepMsNative: TimedRun['stepMs'] | null;
  jsBatch: number | null;
  jsSteps: number | null;
  jsSeconds: number | null;
  inferenceBatch: number;
  tfVersion: string;
  threads: number;
  interOpThreads: number;
  /** A batch's spectrograms, ms of main-thread time: inline, or handed to the worker (src/bench/spectrogramPrep.ts). */
  spectrogramsMs: SpectrogramPrepTimes;
  /** Inline spectrograms / median native step: what they add to every step when they run on the main thread. */
  spectrogramShareOfStep: number | null;
}

function summarise(times: number[], batch: number): TimedRun {
  const sorted = [...times].sort((a, b) => a - b);
  const seconds = times.reduce((s, t) => s + t, 0) / 1000;
  return {
    imagesPerSecond: (times.length * batch) / seconds,
    steps: times.length,
    batch,
    seconds,
    stepMs: { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] },
  };
}

function syntheticBatch(
  batch: number,
  numClasses: number,
  seed: number,
): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  const [h, w, c] = SPECTROGRAM_INPUT_SHAPE;
  return {
    x: tf.randomNormal([batch, h, w, c], 0, 1, 'float32', seed) as tf.Tensor4D,
    labels: tf.tidy(
      () =>
        tf.cast(
          tf.floor(tf.randomUniform([batch], 0, numClasses, 'float32', seed + 1)),
          'int32',
        ) as tf.Tensor1D,
    ),
  };
}

/** Time `count` training steps after `warmup` untimed ones. Stops early once `budgetMs` is spent. */
export function timeTraining(
  model: ResNet,
  batch: number,
  warmup: number,
  count: number,
  budgetMs: number,
  label: string,
): TimedRun {
  const trainer = new ResNetTrainer(model);
  const { x, labels } = syntheticBatch(batch, model.numClasses, 1);
  try {
    for (let i = 0; i < warmup; i++) trainer.step(x, labels);
    const progress = new Progress(label, count, ' steps', 2000);
    const times: number[] = [];
    const start = Date.now();
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const r = trainer.step(x, labels);
      times.push(performance.now() - t0);
      if (!Number.isFinite(r.loss)) throw new Error(`${label}: loss became ${r.loss}`);
      progress.tick();
      if (Date.now() - start > budgetMs) break;
    }
    progress.finish();
    return summarise(times, batch);
  } finally {
    trainer.dispose();
    tf.dispose([x, labels]);
  }
}

function timeInference(
  run: (x: tf.Tensor4D) => tf.Tensor,
  batch: number,
  warmup: number,
  count: number,
  numClasses: number,
): TimedRun {
  const { x, labels } = syntheticBatch(batch, numClasses, 3);
  try {
    for (let i = 0; i < warmup; i++) run(x).dispose();
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const out = run(x);
      out.dataSync();
      out.dispose();
      times.push(performance.now() - t0);
    }
    return summarise(times, batch);
  } finally {
    tf.dispose([x, labels]);
  }
}

export async function benchTrainStep(config: TrainStepBenchConfig): Promise<TrainStepBenchResult> {
  blocksForDepth(config.depth);
  const rt: TfRuntime = await loadTf({ prefer: config.backend === 'js' ? 'js' : config.backend });
  const modelConfig = resnetConfig({ depth: config.depth });
  log(
    `bench train-step: ResNet-${config.depth} on ${modelConfig.inputShape.join('x')} spectrograms, ${modelConfig.numClasses} classes; ` +
      `backend ${rt.backend} (TensorFlow ${rt.tfVersion}, ${rt.threads} intra-op / ${rt.interOpThreads} inter-op threads)`,
  );
  log(
    `native: batch ${config.batch}, ${config.warmupSteps} warm-up + ${config.steps} timed steps; inference: batch ${config.inferenceBatch} x ${config.inferenceBatches}; ` +
      (config.skipJs
        ? 'pure JS skipped'
        : `pure JS: batch ${config.jsBatch}, up to ${config.jsSteps} steps or ${config.jsBudgetSeconds} s`),
  );

  let nativeRun: TimedRun | undefined;
  let inferenceFolded: TimedRun | undefined;
  let inferenceGraph: TimedRun | undefined;
  let inferenceUnfolded: TimedRun | undefined;
  let params = 0;
  if (rt.native) {
    await tf.setBackend('tensorflow');
    const model = ResNet.create(modelConfig, { seed: config.seed });
    params = model.paramCount();
    try {
      nativeRun = timeTraining(
        model,
        config.batch,
        config.warmupSteps,
        config.steps,
        Number.POSITIVE_INFINITY,
        `native ${rt.backend}`,
      );
      log(
        `native training: ${formatNumber(Math.round(nativeRun.imagesPerSecond))} images/s (median step ${nativeRun.stepMs.median.toFixed(1)} ms)`,
      );
      // Each engine over the same model and batches; the snapshot is disposed whatever happens.
      const timeEngine = (engine: 'eager' | 'graph'): TimedRun => {
        const inference = createInference(model, engine);
        try {
          return timeInference(
            (x) => inference.logits(x),
            config.inferenceBatch,
            3,
            config.inferenceBatches,
            model.numClasses,
          );
        } finally {
          inference.dispose();
        }
      };
      inferenceFolded = timeEngine('eager');
      inferenceGraph = timeEngine('graph');
      inferenceUnfolded = timeInference(
        (x) => predictLogits(model, x),
        config.inferenceBatch,
        3,
        config.inferenceBatches,
        model.numClasses,
      );
      log(
        `native inference: ${formatNumber(Math.round(inferenceFolded.imagesPerSecond))} images/s folded, ` +
          `${formatNumber(Math.round(inferenceGraph.imagesPerSecond))} images/s folded as a graph, ` +
          `${formatNumber(Math.round(inferenceUnfolded.imagesPerSecond))} images/s unfolded`,
      );
    } finally {
      model.dispose();
    }
  } else {
    log('NO NATIVE BACKEND: the native figures are null (see docs/native-tensorflow.md)');
  }

  let jsRun: TimedRun | undefined;
  let jsInference: TimedRun | undefined;
  if (!config.skipJs) {
    await tf.setBackend('cpu');
    const model = ResNet.create(modelConfig, { seed: config.seed });
    params = model.paramCount();
    try {
      jsRun = timeTraining(
        model,
        config.jsBatch,
        0,
        config.jsSteps,
        config.jsBudgetSeconds * 1000,
        'pure JS',
      );
      log(
        `pure-JS training: ${jsRun.imagesPerSecond.toFixed(3)} images/s (${jsRun.steps} steps of batch ${jsRun.batch} in ${jsRun.seconds.toFixed(1)} s)`,
      );
      const snapshot = new InferenceSnapshot(model);
      try {
        jsInference = timeInference((x) => snapshot.logits(x), config.jsBatch, 0, 1, model.numClasses);
      } finally {
        snapshot.dispose();
      }
    } finally {
      model.dispose();
      if (rt.native) await tf.setBackend('tensorflow');
    }
  }

  const spectrograms = await timeSpectrogramPrep(config.batch, 20);
  log(
    `spectrograms of a batch of ${config.batch}: ${spectrograms.inlineMs.toFixed(2)} ms on the main thread, ` +
      `${spectrograms.workerMainThreadMs.toFixed(2)} ms of it with the worker (round trip ${spectrograms.workerRoundTripMs.toFixed(2)} ms)`,
  );
  const native = nativeRun?.imagesPerSecond ?? null;
  const js = jsRun?.imagesPerSecond ?? null;
  return {
    native: round(native, 1),
    js: round(js, 4),
    ratio: native !== null && js !== null && js > 0 ? round(native / js, 0) : null,
    backend: rt.backend,
    inputShape: modelConfig.inputShape,
    inferenceNative: round(inferenceFolded?.imagesPerSecond ?? null, 0),
    inferenceNativeGraph: round(inferenceGraph?.imagesPerSecond ?? null, 0),
    inferenceMsNativeGraph: inferenceGraph ? roundMs(inferenceGraph.stepMs) : null,
    inferenceNativeUnfolded: round(inferenceUnfolded?.imagesPerSecond ?? null, 0),
    inferenceJs: round(jsInference?.imagesPerSecond ?? null, 2),
    inferenceMsNative: inferenceFolded ? roundMs(inferenceFolded.stepMs) : null,
    depth: config.depth,
    params,
    batch: config.batch,
    steps: nativeRun?.steps ?? 0,
    stepMsNative: nativeRun ? roundMs(nativeRun.stepMs) : null,
    jsBatch: jsRun?.batch ?? null,
    jsSteps: jsRun?.steps ?? null,
    jsSeconds: round(jsRun?.seconds ?? null, 1),
    inferenceBatch: config.inferenceBatch,
    tfVersion: rt.tfVersion,
    threads: rt.threads,
    interOpThreads: rt.interOpThreads,
    spectrogramsMs: {
      inlineMs: round(spectrograms.inlineMs, 2) ?? 0,
      workerMainThreadMs: round(spectrograms.workerMainThreadMs, 2) ?? 0,
      workerRoundTripMs: round(spectrograms.workerRoundTripMs, 2) ?? 0,
    },
    spectrogramShareOfStep: nativeRun ? round(spectrograms.inlineMs / nativeRun.stepMs.median, 3) : null,
  };
}

function roundMs(ms: TimedRun['stepMs']): TimedRun['stepMs'] {
  return {
    median: Math.round(ms.median * 10) / 10,
    min: Math.round(ms.min * 10) / 10,
    max: Math.round(ms.max * 10) / 10,
  };
}

function round(v: number | null, digits: number): number | null {
  if (v === null) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function positiveInt(name: string) {
  const parse = parsePositiveNumber(name);
  return (value: string): number => {
    const n = parse(value);
    if (!Number.isInteger(n)) throw new ConfigError(`"${value}" is not a whole number`, name);
    return n;
  };
}

interface Flags {
  depth: number;
  batch: number;
  steps: number;
  warmup: number;
  inferenceBatches: number;
  inferenceBatch?: number;
  jsBatch: number;
  jsSteps: number;
  jsBudgetSeconds: number;
  js: boolean;
  tfBackend?: string;
  seed: number;
  json?: boolean;
}

export function register(bench: Command): void {
  const cmd = bench
    .command('train-step')
    .description(
      'training and inference images/s of the ResNet on the spectrogram shape, native TensorFlow vs pure JS',
    )
    .option('--depth <n>', 'ResNet depth, 6n+2', positiveInt('depth'), 20)
    .option('--batch <n>', 'training batch on the native backend', positiveInt('batch'), 128)
    .option('--steps <n>', 'timed native training steps', positiveInt('steps'), 20)
    .option('--warmup <n>', 'untimed native warm-up steps', positiveInt('warmup'), 3)
    .option('--inference-batches <n>', 'timed native inference batches', positiveInt('inference-batches'), 50)
    .option(
      '--inference-batch <n>',
      'inference batch (default: the training batch)',
      positiveInt('inference-batch'),
    )
    .option('--js-batch <n>', 'training batch on pure JS', positiveInt('js-batch'), 8)
    .option('--js-steps <n>', 'at most this many pure-JS steps', positiveInt('js-steps'), 2)
    .option(
      '--js-budget-seconds <s>',
      'stop pure JS after this long (at least one step runs)',
      parsePositiveNumber('js-budget-seconds'),
      90,
    )
    .option('--no-js', 'skip the pure-JS run')
    .option('--seed <n>', 'weight initialisation seed', positiveInt('seed'), 1)
    .addOption(
      new Option(
        '--tf-backend <name>',
        'backend of the native run: auto, gpu or native (env ECGFLOW_TF_BACKEND)',
      ).choices(['auto', 'gpu', 'native', 'js']),
    );
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const config: TrainStepBenchConfig = {
      depth: flags.depth,
      batch: flags.batch,
      steps: flags.steps,
      warmupSteps: flags.warmup,
      inferenceBatches: flags.inferenceBatches,
      inferenceBatch: flags.inferenceBatch ?? flags.batch,
      jsBatch: flags.jsBatch,
      jsSteps: flags.jsSteps,
      jsBudgetSeconds: flags.jsBudgetSeconds,
      skipJs: !flags.js,
      backend: resolveBackendPreference(flags.tfBackend),
      seed: flags.seed,
      json: Boolean(flags.json),
    };
    const result = await benchTrainStep(config);
    const rows: [string, string | number][] = [
      ['native training images/s', result.native ?? 'n/a'],
      ['pure-JS training images/s', result.js ?? 'n/a'],
      ['native / pure JS', result.ratio ?? 'n/a'],
      ['native inference images/s (folded BN)', result.inferenceNative ?? 'n/a'],
      ['native inference images/s (folded BN, one TF graph)', result.inferenceNativeGraph ?? 'n/a'],
      ['native inference images/s (plain BN)', result.inferenceNativeUnfolded ?? 'n/a'],
      [
        'native inference batch ms',
        result.inferenceMsNative === null
          ? '-'
          : `median ${result.inferenceMsNative.median} (min ${result.inferenceMsNative.min}, max ${result.inferenceMsNative.max})`,
      ],
      ['backend', `${result.backend} (TensorFlow ${result.tfVersion}, ${result.threads} threads)`],
      [
        'model',
        `ResNet-${result.depth}, ${formatNumber(result.params)} parameters, input ${result.inputShape.join('x')}`,
      ],
      [
        'native run',
        `${result.steps} steps of batch ${result.batch}, step ms median ${result.stepMsNative?.median ?? '-'} (min ${result.stepMsNative?.min ?? '-'}, max ${result.stepMsNative?.max ?? '-'})`,
      ],
      [
        'pure-JS run',
        result.jsSteps === null
          ? 'skipped'
          : `${result.jsSteps} steps of batch ${result.jsBatch} in ${result.jsSeconds} s`,
      ],
      [
        'spectrograms per batch, main-thread ms',
        `${result.spectrogramsMs.inlineMs} inline, ${result.spectrogramsMs.workerMainThreadMs} with the worker (round trip ${result.spectrogramsMs.workerRoundTripMs})`,
      ],
      [
        'inline spectrograms / native step',
        result.spectrogramShareOfStep === null
          ? 'n/a'
          : `${(100 * result.spectrogramShareOfStep).toFixed(1)} %`,
      ],
    ];
    if (config.json) {
      log(table(rows));
      printJson(result);
    } else process.stdout.write(`${table(rows)}\n`);
  });
}
