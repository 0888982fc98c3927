/**
 * The lean training step of the ResNet: one tf.variableGrads over the training-mode forward pass and the
 * softmax cross-entropy, then SGD with momentum and weight decay, all inside one tf.tidy. The batch-norm
 * running averages move during the forward pass. Nothing survives a step except the updated variables,
 * the momentum buffers and two numbers (loss, correct predictions).
 *
 * Optimizer (shared spec adaptive-training.md, section 5; PyTorch's SGD semantics):
 *   g' = g + weightDecay * w      (L2 on the gradient; by default on conv and dense kernels only)
 *   v  = momentum * v + g'
 *   w  = w - learningRate * v
 * The learning-rate schedule belongs to the caller (`setLearningRate` once per epoch). After a growth the
 * caller creates a new trainer: momentum buffers are per variable and are discarded with the old one.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { forwardTrain } from './forward';
import { type OpsMode, softmaxCrossEntropy } from './ops';
import type { ResNet } from './resnet';

export interface SgdConfig {
  learningRate: number;
  momentum: number;
  weightDecay: number;
  /**
   * `kernels`: weight decay on conv and dense kernels only (BN gamma/beta and the dense bias excluded, the
   * usual choice for batch-normalised nets); `all`: every trainable variable, like the reference PyTorch
   * code's `SGD(model.parameters(), weight_decay=...)`.
   */
  weightDecayOn: 'kernels' | 'all';
}

export const DEFAULT_SGD: SgdConfig = {
  learningRate: 0.1,
  momentum: 0.9,
  weightDecay: 2e-4,
  weightDecayOn: 'kernels',
};

export interface TrainerOptions extends Partial<SgdConfig> {
  /** `auto` (default) uses TensorFlow's fused batch norm and ReLU gradients when the native backend is active. */
  ops?: OpsMode;
  /** Per-class loss weights (weighted mean cross-entropy); absent: every example counts the same. */
  classWeights?: readonly number[];
}

export interface StepResult {
  /** Mean cross-entropy of the batch, before the update. */
  loss: number;
  /** Correctly classified examples of the batch (training mode, before the update). */
  correct: number;
  batchSize: number;
}

interface Slot {
  variable: tf.Variable;
  velocity: tf.Variable;
  decay: boolean;
}

/** SGD with momentum and L2 weight decay over a fixed list of variables. */
export class SgdMomentum {
  private readonly slots = new Map<string, Slot>();
  private lr: tf.Scalar;
  private readonly mu: tf.Scalar;
  private readonly wd: tf.Scalar;
  private lrValue: number;

  constructor(
    variables: readonly { variable: tf.Variable; decay: boolean }[],
    readonly config: SgdConfig,
  ) {
    validateSgd(config);
    for (const { variable, decay } of variables) {
      this.slots.set(variable.name, {
        variable,
        // tidy: the zeros the variable is initialised from would otherwise outlive it (one per variable).
        velocity: tf.tidy(() => tf.variable(tf.zerosLike(variable), false)),
        decay: decay && config.weightDecay > 0,
      });
    }
    this.lrValue = config.learningRate;
    this.lr = tf.keep(tf.scalar(config.learningRate));
    this.mu = tf.keep(tf.scalar(config.momentum));
    this.wd = tf.keep(tf.scalar(config.weightDecay));
  }

  get learningRate(): number {
    return this.lrValue;
  }

  setLearningRate(lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr))
      throw new ConfigError(`learning rate must be a finite number >= 0, got ${lr}`, 'learningRate');
    if (lr === this.lrValue) return;
    this.lr.dispose();
    this.lr = tf.keep(tf.scalar(lr));
    this.lrValue = lr;
  }

  /** The momentum buffer of `variable` (for checkpoints), or undefined if this optimizer does not update it. */
  velocityOf(variable: tf.Variable): tf.Variable | undefined {
    return this.slots.get(variable.name)?.velocity;
  }

  /** One update from gradients keyed by variable name (as tf.variableGrads returns them). */
  apply(grads: tf.NamedTensorMap): void {
    tf.tidy(() => {
      for (const [name, g] of Object.entries(grads)) {
        const slot = this.slots.get(name);
        if (slot === undefined || g === null || g === undefined) continue;
        const decayed = slot.decay ? tf.add(g, tf.mul(slot.variable, this.wd)) : g;
        const v = tf.add(tf.mul(slot.velocity, this.mu), decayed);
        slot.velocity.assign(v);
        slot.variable.assign(tf.sub(slot.variable, tf.mul(v, this.lr)));
      }
    });
  }

  dispose(): void {
    for (const slot of this.slots.values()) slot.velocity.dispose();
    this.slots.clear();
    this.lr.dispose();
    this.mu.dispose();
    this.wd.dispose();
  }
}

function validateSgd(c: SgdConfig): void {
  if (!(c.learningRate >= 0))
    throw new ConfigError(`learningRate must be >= 0, got ${c.learningRate}`, 'learningRate');
  if (!(c.momentum >= 0 && c.momentum < 1))
    throw new ConfigError(`momentum must be in [0, 1), got ${c.momentum}`, 'momentum');
  if (!(c.weightDecay >= 0))
    throw new ConfigError(`weightDecay must be >= 0, got ${c.weightDecay}`, 'weightDecay');
  if (c.weightDecayOn !== 'kernels' && c.weightDecayOn !== 'all') {
    throw new ConfigError(
      `weightDecayOn must be "kernels" or "all", got ${String(c.weightDecayOn)}`,
      'weightDecayOn',
    );
  }
}

/**
 * Trains one ResNet: `step(x, labels)` runs forward, backward and the optimizer update on one batch.
 * Build a new trainer for a new (grown) network.
 */
export class ResNetTrainer {
  readonly optimizer: SgdMomentum;
  private readonly variables: tf.Variable[];
  private readonly ops: OpsMode;
  private readonly classWeights: tf.Tensor1D | undefined;

  constructor(
    readonly model: ResNet,
    options: TrainerOptions = {},
  ) {
    const { ops, classWeights, ...sgd } = options;
    if (classWeights !== undefined) {
      if (
        classWeights.length !== model.numClasses ||
        !classWeights.every((w) => Number.isFinite(w) && w > 0)
      ) {
        throw new ConfigError(
          `classWeights must be ${model.numClasses} positive numbers, got ${JSON.stringify(classWeights)}`,
          'classWeights',
        );
      }
    }
    const config: SgdConfig = { ...DEFAULT_SGD, ...sgd };
    const trainable = model.namedVariables().filter((v) => v.trainable);
    this.variables = trainable.map((v) => v.variable);
    this.optimizer = new SgdMomentum(
      trainable.map((v) => ({ variable: v.variable, decay: config.weightDecayOn === 'all' || v.isKernel })),
      config,
    );
    this.ops = ops ?? 'auto';
    this.classWeights = classWeights === undefined ? undefined : tf.keep(tf.tensor1d([...classWeights]));
  }

  setLearningRate(lr: number): void {
    this.optimizer.setLearningRate(lr);
  }

  /**
   * One training step on a batch: `x` [batch, height, width, channels] float32, `labels` [batch] class
   * indices, `features` [batch, F] when the model takes F scalar features, `imageKeep` [batch, 1] the
   * image-dropout mask (forwardTrain). Leaves no tensors behind.
   */
  step(x: tf.Tensor4D, labels: tf.Tensor1D, features?: tf.Tensor2D, imageKeep?: tf.Tensor2D): StepResult {
    const kept: { correct?: tf.Scalar } = {};
    const lossT = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const logits = forwardTrain(this.model, x, this.ops, features, imageKeep);
        // Kept: variableGrads disposes everything of the forward pass except the loss.
        kept.correct = tf.keep(
          tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32')), 'int32')) as tf.Scalar,
        );
        return softmaxCrossEntropy(logits, labels, this.classWeights);
      }, this.variables);
      this.optimizer.apply(grads);
      return value;
    });
    let correct = 0;
    try {
      correct = kept.correct?.dataSync()[0] ?? 0;
    } finally {
      kept.correct?.dispose();
    }
    const loss = lossT.dataSync()[0];
    lossT.dispose();
    return { loss, correct, batchSize: x.shape[0] };
  }

  dispose(): void {
    this.optimizer.dispose();
    this.classWeights?.dispose();
  }
}
