/**
 * Forward passes of the ResNet. Training mode normalises with batch statistics and moves the running
 * averages; inference mode uses the running averages. Inputs are NHWC [batch, height, width, channels].
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import { addRelu, batchNormInference, batchNormTrain, type OpsMode, relu } from './ops';
import type { FrozenConv, FrozenResNet } from './frozenGraph';
import { headLayers, type ConvBn, type DenseHead, type ResNet } from './resnet';

function scaled(v: tf.Tensor1D, h: number): tf.Tensor1D {
  return h === 1 ? v : tf.mul(v, h);
}

/**
 * What the dense head sees: the pooled image features, followed by the beat's scalar features when the
 * model has any. A model without features ignores them, so an image-only model serves beats that carry them.
 */
export function headInput(
  featureCount: number,
  pooled: tf.Tensor2D,
  features: tf.Tensor2D | undefined,
): tf.Tensor2D {
  if (featureCount === 0) return pooled;
  return tf.concat([pooled, checkedFeatures(featureCount, pooled.shape[0], features)], 1);
}

/** `features` when it is the [batch, F] a model with F > 0 features needs; a ConfigError otherwise. */
export function checkedFeatures(
  featureCount: number,
  batch: number,
  features: tf.Tensor2D | undefined,
): tf.Tensor2D {
  if (features === undefined)
    throw new ConfigError(`the model needs ${featureCount} scalar features per beat, none given`, 'features');
  const [rows, cols] = features.shape;
  if (rows !== batch || cols !== featureCount) {
    throw new ConfigError(`features must be [${batch}, ${featureCount}], got [${rows}, ${cols}]`, 'features');
  }
  return features;
}

/** Class logits from the head's input: ReLU after every head layer but the last (headLayers). */
export function headLogits(head: DenseHead, input: tf.Tensor2D): tf.Tensor2D {
  const layers = headLayers(head);
  let h = input;
  layers.forEach((layer, i) => {
    const z = tf.add(tf.matMul(h, layer.kernel), layer.bias) as tf.Tensor2D;
    h = i < layers.length - 1 ? tf.relu(z) : z;
  });
  return h;
}

/**
 * Training-mode forward pass: logits [batch, K]. Side effect: every batch norm's running averages move
 * one step. Call it inside tf.variableGrads / tf.tidy; it disposes nothing itself.
 *
 * `imageKeep` [batch, 1] of 0 and 1 multiplies the pooled image features before the head (image dropout,
 * TrainingConfig.imageDropout): a 0 makes the head classify that beat from its scalar features alone.
 * Not rescaled: a kept beat's head input is exactly what inference sees.
 */
export function forwardTrain(
  model: ResNet,
  x: tf.Tensor4D,
  mode: OpsMode = 'auto',
  features?: tf.Tensor2D,
  imageKeep?: tf.Tensor2D,
): tf.Tensor2D {
  const bnConfig = model.batchNorm;
  const convBn = (input: tf.Tensor4D, c: ConvBn, h = 1): tf.Tensor4D => {
    const z = tf.conv2d(input, c.kernel, c.stride, 'same');
    // h * BN(z) = BN(z) with gamma and beta scaled by h: two tiny ops instead of one over the activations.
    return batchNormTrain(z, scaled(c.bn.gamma, h), scaled(c.bn.beta, h), c.bn, bnConfig, mode);
  };
  let out = relu(convBn(x, model.stem), mode);
  for (const stage of model.stages) {
    for (const block of stage.blocks) {
      const a = relu(convBn(out, block.conv1), mode);
      const r = convBn(a, block.conv2, block.stepSize);
      const shortcut = block.shortcut === undefined ? out : convBn(out, block.shortcut);
      out = addRelu(shortcut, r, mode);
    }
  }
  const mean = tf.mean(out, [1, 2]) as tf.Tensor2D;
  const pooled = imageKeep === undefined ? mean : (tf.mul(mean, imageKeep) as tf.Tensor2D);
  return headLogits(model.head, headInput(model.featureCount, pooled, features));
}

/**
 * Inference-mode forward pass with the running statistics: logits [batch, K], everything intermediate
 * disposed. For repeated inference on fixed weights `InferenceSnapshot` is faster.
 */
export function predictLogits(model: ResNet, x: tf.Tensor4D, features?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const eps = model.batchNorm.epsilon;
    const convBn = (input: tf.Tensor4D, c: ConvBn, h = 1): tf.Tensor4D =>
      batchNormInference(
        tf.conv2d(input, c.kernel, c.stride, 'same'),
        scaled(c.bn.gamma, h),
        scaled(c.bn.beta, h),
        c.bn,
        eps,
      );
    let out = tf.relu(convBn(x, model.stem));
    for (const stage of model.stages) {
      for (const block of stage.blocks) {
        const a = tf.relu(convBn(out, block.conv1));
        const r = convBn(a, block.conv2, block.stepSize);
        const shortcut = block.shortcut === undefined ? out : convBn(out, block.shortcut);
        out = tf.relu(tf.add(shortcut, r)) as tf.Tensor4D;
      }
    }
    const pooled = tf.mean(out, [1, 2]) as tf.Tensor2D;
    return headLogits(model.head, headInput(model.featureCount, pooled, features));
  });
}

/** Class probabilities [batch, K] in inference mode. */
export function predictProbabilities(model: ResNet, x: tf.Tensor4D, features?: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(predictLogits(model, x, features)));
}

interface FoldedConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  stride: 1 | 2;
}

function fold(c: ConvBn, h: number, eps: number): FoldedConv {
  return tf.tidy(() => {
    // BN(conv(x, k)) = conv(x, k * s) + (beta - mean * s), s = gamma / sqrt(var + eps), all times h.
    const s = tf.mul(tf.mul(c.bn.gamma, tf.rsqrt(tf.add(c.bn.movingVariance, eps))), h) as tf.Tensor1D;
    const filter = tf.mul(c.kernel, s) as tf.Tensor4D;
    const bias = tf.sub(tf.mul(c.bn.beta, h), tf.mul(c.bn.movingMean, s)) as tf.Tensor1D;
    return { filter: tf.keep(filter), bias: tf.keep(bias), stride: c.stride };
  });
}

/**
 * A frozen model that classifies: `eager` runs tfjs ops one by one (InferenceSnapshot, any backend), `graph`
 * a TensorFlow session over the same folded weights (GraphInference, native backends). Create with
 * createInference (inference.ts); dispose when done.
 */
export interface Inference {
  readonly engine: 'eager' | 'graph';
  readonly featureCount: number;
  /** Logits [batch, K]. `features` [batch, F] when the model has F > 0; ignored when F = 0. */
  logits(x: tf.Tensor4D, features?: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

/**
 * Inference on a frozen copy of the weights with every batch norm folded into its convolution, so that
 * each conv + BN (+ ReLU) is one fused op. Take a new snapshot after the weights change; dispose it when done.
 */
export class InferenceSnapshot implements Inference {
  readonly engine = 'eager';
  private readonly stem: FoldedConv;
  private readonly blocks: { conv1: FoldedConv; conv2: FoldedConv; shortcut?: FoldedConv }[];
  /** Frozen copies of the head's layers (headLayers order: ReLU after all but the last). */
  private readonly head: { kernel: tf.Tensor2D; bias: tf.Tensor1D }[];
  readonly featureCount: number;

  constructor(model: ResNet) {
    const eps = model.batchNorm.epsilon;
    this.stem = fold(model.stem, 1, eps);
    this.blocks = model.stages.flatMap((stage) =>
      stage.blocks.map((b) => ({
        conv1: fold(b.conv1, 1, eps),
        conv2: fold(b.conv2, b.stepSize, eps),
        shortcut: b.shortcut === undefined ? undefined : fold(b.shortcut, 1, eps),
      })),
    );
    this.featureCount = model.featureCount;
    this.head = headLayers(model.head).map((l) => ({
      kernel: tf.keep(l.kernel.clone()),
      bias: tf.keep(l.bias.clone()),
    }));
  }

  /** Logits [batch, K]; intermediates disposed. `features` [batch, F] when the model has F > 0. */
  logits(x: tf.Tensor4D, features?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy((): tf.Tensor2D => {
      const conv = (input: tf.Tensor4D, f: FoldedConv, activation: 'relu' | 'linear'): tf.Tensor4D =>
        tf.fused.conv2d({
          x: input,
          filter: f.filter,
          strides: f.stride,
          pad: 'same',
          bias: f.bias,
          activation,
        });
      let out = conv(x, this.stem, 'relu');
      for (const b of this.blocks) {
        const a = conv(out, b.conv1, 'relu');
        const r = conv(a, b.conv2, 'linear');
        const shortcut = b.shortcut === undefined ? out : conv(out, b.shortcut, 'linear');
        out = tf.relu(tf.add(shortcut, r)) as tf.Tensor4D;
      }
      const pooled = tf.mean(out, [1, 2]) as tf.Tensor2D;
      let h = headInput(this.featureCount, pooled, features);
      this.head.forEach((l, i) => {
        const activation = i < this.head.length - 1 ? 'relu' : 'linear';
        h = tf.fused.matMul({ a: h, b: l.kernel, bias: l.bias, activation }) as tf.Tensor2D;
      });
      return h;
    });
  }

  /** The folded weights as plain arrays, for the graph engine (frozenGraph.ts). */
  frozen(inputShape: readonly [number, number, number]): FrozenResNet {
    const conv = (f: FoldedConv): FrozenConv => ({
      filter: f.filter.dataSync() as Float32Array,
      filterShape: f.filter.shape,
      bias: f.bias.dataSync() as Float32Array,
      stride: f.stride,
    });
    return {
      inputShape,
      stem: conv(this.stem),
      blocks: this.blocks.map((b) => ({
        conv1: conv(b.conv1),
        conv2: conv(b.conv2),
        ...(b.shortcut === undefined ? {} : { shortcut: conv(b.shortcut) }),
      })),
      head: this.head.map((l) => ({
        kernel: l.kernel.dataSync() as Float32Array,
        kernelShape: l.kernel.shape,
        bias: l.bias.dataSync() as Float32Array,
      })),
      featureCount: this.featureCount,
    };
  }

  dispose(): void {
    const all = [
      this.stem,
      ...this.blocks.flatMap((b) => [b.conv1, b.conv2, ...(b.shortcut ? [b.shortcut] : [])]),
    ];
    for (const f of all) {
      f.filter.dispose();
      f.bias.dispose();
    }
    for (const l of this.head) {
      l.kernel.dispose();
      l.bias.dispose();
    }
  }
}
