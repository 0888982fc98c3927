/**
 * The adaptive trainer (seed paper; adaptive-training spec): it trains a ResNet epoch by epoch on batches
 * it is given, and at the end of every epoch measures the mean block Lipschitz bound, feeds the growth
 * trigger, and doubles the network (clone, h halved, optimizer rebuilt, cosine restarted) when the trigger
 * fires. `vanilla` mode trains the final depth from scratch on the same schedule without restarts.
 *
 * It knows TensorFlow but not where batches come from: the training pipeline streams them from the beat
 * log. Everything it reports goes out on `events$`. All per-epoch tensor work is disposed (tf.tidy), so
 * tf.memory().numTensors stays flat across epochs.
 */
import * as tf from '@tensorflow/tfjs';
import { Subject } from 'rxjs';
import { hashString32, mulberry32 } from '../dsp/random';
import { ConfigError } from '../errors';
import { resnetConfig } from '../model/config';
import { ResNet } from '../model/resnet';
import { ResNetTrainer } from '../model/train';
import { type TrainingConfig, growthsBetween, validateTrainingConfig } from './config';
import type { EpochEvent, GrowthEvent, LipschitzEvent, TrainerEvent } from './events';
import { growResNet } from './grow';
import { GrowthTrigger, type GrowthTriggerState } from './growthTrigger';
import { ConvSpectralNorm, estimateLipschitz } from './lipschitz';
import { parametersPerEpoch } from './ppe';
import { cosineLearningRate } from './schedule';
import { featureCountOf } from './beatFeatures';
import { evaluateModel, featureTensor, type EvaluationResult } from './evaluate';

export type { EvaluationResult } from './evaluate';

/** A batch of spectrograms (NHWC, flattened), integer class labels and, for models with F > 0, features. */
export interface ImageBatch {
  images: Float32Array;
  labels: Int32Array;
  count: number;
  /** Row-major [count, F] scalar features (config.featureCount > 0). */
  features?: Float32Array;
}

/** Everything needed to continue a run exactly where it stopped (besides the weights). */
export interface TrainerState {
  nextEpoch: number;
  restartEpoch: number;
  trigger: GrowthTriggerState;
  epochs: EpochEvent[];
  lipschitz: LipschitzEvent[];
  growths: GrowthEvent[];
  parametersByEpoch: number[];
  elapsedSeconds: number;
}

interface EpochAccumulator {
  epoch: number;
  learningRate: number;
  lossSum: number;
  correct: number;
  count: number;
  startMs: number;
  /** Draws the epoch's image-dropout masks; seeded by (seed, epoch), so a resumed epoch repeats them. */
  imageDropoutRandom: () => number;
}

export class AdaptiveTrainer {
  readonly events$ = new Subject<TrainerEvent>();
  readonly config: TrainingConfig;
  private modelRef: ResNet;
  private stepper: ResNetTrainer;
  private readonly power: ConvSpectralNorm;
  private trigger: GrowthTrigger;
  private state: TrainerState;
  private current: EpochAccumulator | undefined;
  private resumedAtMs = Date.now();

  /**
   * A fresh run, or a resumed one when `resume` (state plus the weights it was saved with) is given.
   * `backend` is recorded in every epoch event.
   */
  constructor(
    config: TrainingConfig,
    readonly backend: string,
    resume?: { state: TrainerState; model: ResNet },
  ) {
    this.config = validateTrainingConfig({ ...config });
    const depth = this.config.mode === 'adaptive' ? this.config.initialDepth : this.config.finalDepth;
    this.modelRef =
      resume?.model ??
      ResNet.create(
        resnetConfig({
          depth,
          inputShape: this.config.inputShape,
          numClasses: this.config.numClasses,
          stepSize: this.config.stepSize,
          featureCount: featureCountOf(this.config.features),
          beats: this.config.beats,
          headHiddenUnits: this.config.headHiddenUnits,
        }),
        { seed: this.config.seed },
      );
    this.stepper = this.newStepper();
    this.power = new ConvSpectralNorm(this.config.lipschitzIterations, this.config.seed);
    const growths =
      this.config.mode === 'adaptive' ? growthsBetween(this.config.initialDepth, this.config.finalDepth) : 0;
    const triggerConfig = {
      epochs: this.config.epochs,
      window: this.config.window,
      rTol: this.config.rTol,
      reserve: this.config.reserve,
      growthsLeft: growths,
    };
    this.trigger = new GrowthTrigger(triggerConfig, resume?.state.trigger);
    this.state = resume?.state ?? {
      nextEpoch: 0,
      restartEpoch: 0,
      trigger: this.trigger.snapshot(),
      epochs: [],
      lipschitz: [],
      growths: [],
      parametersByEpoch: [],
      elapsedSeconds: 0,
    };
  }

  private newStepper(): ResNetTrainer {
    return new ResNetTrainer(this.modelRef, {
      learningRate: this.config.lrMax,
      momentum: this.config.momentum,
      weightDecay: this.config.weightDecay,
      weightDecayOn: this.config.weightDecayOn,
      classWeights: this.config.classWeights ?? undefined,
    });
  }

  get model(): ResNet {
    return this.modelRef;
  }

  get optimizer(): ResNetTrainer['optimizer'] {
    return this.stepper.optimizer;
  }

  get spectralNorm(): ConvSpectralNorm {
    return this.power;
  }

  get nextEpoch(): number {
    return this.state.nextEpoch;
  }

  get finished(): boolean {
    return this.state.nextEpoch >= this.config.epochs;
  }

  /** A copy of the run's state, for checkpoints and reports. */
  snapshot(): TrainerState {
    return structuredClone({
      ...this.state,
      trigger: this.trigger.snapshot(),
      elapsedSeconds: this.elapsedSeconds(),
    });
  }

  /** PPE so far (parameters per epoch over the epochs trained). */
  get ppe(): number {
    return parametersPerEpoch(this.state.parametersByEpoch);
  }

  private elapsedSeconds(): number {
    return this.state.elapsedSeconds + (Date.now() - this.resumedAtMs) / 1000;
  }

  /** Start the next epoch: sets its learning rate from the (restarted) cosine schedule. */
  beginEpoch(): { epoch: number; learningRate: number } {
    if (this.finished) throw new ConfigError(`all ${this.config.epochs} epochs are done`, 'epochs');
    if (this.current !== undefined)
      throw new ConfigError(`epoch ${this.current.epoch} is still open`, 'epoch');
    const epoch = this.state.nextEpoch;
    const restart = this.config.mode === 'adaptive' ? this.state.restartEpoch : 0;
    const learningRate = cosineLearningRate(
      { lrMax: this.config.lrMax, lrMin: this.config.lrMin, epochs: this.config.epochs },
      epoch,
      restart,
    );
    this.stepper.setLearningRate(learningRate);
    this.current = {
      epoch,
      learningRate,
      lossSum: 0,
      correct: 0,
      count: 0,
      startMs: Date.now(),
      imageDropoutRandom: mulberry32(hashString32(`image-dropout:${epoch}`, this.config.seed)),
    };
    return { epoch, learningRate };
  }

  /** One SGD step on a batch. */
  trainBatch(batch: ImageBatch): { loss: number; accuracy: number } {
    const acc = this.current;
    if (acc === undefined)
      throw new ConfigError('trainBatch outside an epoch (call beginEpoch first)', 'epoch');
    const [h, w, c] = this.config.inputShape;
    let x: tf.Tensor4D | undefined;
    let y: tf.Tensor1D | undefined;
    let f: tf.Tensor2D | undefined;
    let keep: tf.Tensor2D | undefined;
    try {
      // Inside the try: a batch refused half-way (wrong feature count) leaves no tensors behind.
      x = tf.tensor4d(batch.images.subarray(0, batch.count * h * w * c), [batch.count, h, w, c]);
      y = tf.tensor1d(batch.labels.subarray(0, batch.count), 'int32');
      f = featureTensor(batch.features, batch.count, this.modelRef.featureCount);
      keep = this.imageKeepMask(batch.count, acc.imageDropoutRandom);
      const r = this.stepper.step(x, y, f, keep);
      acc.lossSum += r.loss * r.batchSize;
      acc.correct += r.correct;
      acc.count += r.batchSize;
      return { loss: r.loss, accuracy: r.correct / r.batchSize };
    } finally {
      x?.dispose();
      y?.dispose();
      f?.dispose();
      keep?.dispose();
    }
  }

  /** The image-dropout mask of a batch: [count, 1], 0 for a dropped beat; undefined when off. */
  private imageKeepMask(count: number, random: () => number): tf.Tensor2D | undefined {
    const p = this.config.imageDropout;
    if (!(p > 0)) return undefined;
    const keep = new Float32Array(count);
    for (let i = 0; i < count; i++) keep[i] = random() < p ? 0 : 1;
    return tf.tensor2d(keep, [count, 1]);
  }

  /** Loss, accuracy and predictions of the current model in inference mode, in evalBatchSize chunks. */
  evaluate(
    images: Float32Array,
    labels: Int32Array,
    count: number,
    features?: Float32Array,
  ): EvaluationResult {
    return evaluateModel(this.modelRef, images, labels, count, this.config.evalBatchSize, features);
  }

  /**
   * Close the epoch: record it, and in adaptive mode estimate the Lipschitz bound, feed the trigger and grow
   * when it fires. Returns the events emitted, in order.
   */
  endEpoch(validation?: { loss: number; accuracy: number }): TrainerEvent[] {
    const acc = this.current;
    if (acc === undefined) throw new ConfigError('endEpoch without beginEpoch', 'epoch');
    if (acc.count === 0) throw new ConfigError(`epoch ${acc.epoch} saw no training data`, 'epoch');
    const emitted: TrainerEvent[] = [];
    const emit = (e: TrainerEvent) => {
      emitted.push(e);
      this.events$.next(e);
    };
    const parameters = this.modelRef.paramCount();
    const depth = this.modelRef.depth;
    this.state.parametersByEpoch.push(parameters);

    let lipschitz: LipschitzEvent | undefined;
    let growth: GrowthEvent | undefined;
    if (this.config.mode === 'adaptive') {
      const estimate = estimateLipschitz(this.modelRef, this.power);
      const decision = this.trigger.observe(acc.epoch, estimate.mean);
      lipschitz = {
        kind: 'lipschitz',
        epoch: acc.epoch,
        perBlock: estimate.perBlock,
        mean: estimate.mean,
        smoothed: decision.smoothed ?? null,
        ratioToReference: decision.ratio ?? null,
        seconds: estimate.seconds,
      };
      if (decision.fire && decision.kind !== undefined) {
        growth = this.grow(acc.epoch, decision.kind, decision.smoothed ?? estimate.mean, decision.ratio ?? 1);
      }
    }
    const seconds = (Date.now() - acc.startMs) / 1000;
    const epochEvent: EpochEvent = {
      kind: 'epoch',
      epoch: acc.epoch,
      trainLoss: acc.lossSum / acc.count,
      trainAccuracy: acc.correct / acc.count,
      validationLoss: validation?.loss ?? null,
      validationAccuracy: validation?.accuracy ?? null,
      learningRate: acc.learningRate,
      depth,
      parameters,
      seconds,
      elapsedSeconds: this.elapsedSeconds(),
      backend: this.backend,
    };
    this.state.epochs.push(epochEvent);
    emit(epochEvent);
    if (lipschitz !== undefined) {
      this.state.lipschitz.push(lipschitz);
      emit(lipschitz);
    }
    if (growth !== undefined) {
      this.state.growths.push(growth);
      emit(growth);
    }
    this.state.nextEpoch = acc.epoch + 1;
    this.state.trigger = this.trigger.snapshot();
    this.current = undefined;
    return emitted;
  }

  /** Double every stage, halve h, rebuild the optimizer; the cosine restarts at the next epoch. */
  private grow(epoch: number, trigger: 'threshold' | 'forced', smoothed: number, ratio: number): GrowthEvent {
    const before = this.modelRef;
    const grown = growResNet(before, this.config.growthStepFactor);
    this.stepper.dispose(); // momentum buffers are discarded, as in the reference
    this.power.reset(); // power iteration restarts from random vectors on the new network
    this.modelRef = grown;
    this.stepper = this.newStepper();
    const event: GrowthEvent = {
      kind: 'growth',
      epoch,
      trigger,
      smoothedLipschitz: smoothed,
      ratio,
      depthBefore: before.depth,
      depthAfter: grown.depth,
      parametersBefore: before.paramCount(),
      parametersAfter: grown.paramCount(),
    };
    before.dispose();
    this.state.restartEpoch = epoch + 1;
    return event;
  }

  /** Record a checkpoint in the event stream (the checkpoint writer calls this once the files are durable). */
  announceCheckpoint(epoch: number, path: string, modelVersion: string): void {
    this.events$.next({ kind: 'checkpoint', epoch, path, modelVersion, depth: this.modelRef.depth });
  }

  dispose(): void {
    this.stepper.dispose();
    this.power.dispose();
    this.modelRef.dispose();
    this.events$.complete();
  }
}
