/**
 * Upper bounds of the Lipschitz constants of the residual branches (adaptive-training spec, section 2):
 * L_block = sigma(conv1) * L(BN1) * sigma(conv2) * L(BN2), ReLU counting 1, shortcut and h excluded, and
 * their arithmetic mean over every block of every stage.
 *
 * sigma(conv) is the spectral norm of the convolution *operator* on the block's real input size, with its
 * stride and "same" zero padding — not the norm of the reshaped kernel — found by power iteration with
 * conv2d and its exact adjoint conv2dTranspose. The vectors persist between calls (warm start), keyed by
 * the convolution's path in the network (`stage1/block0/conv1`); the trainer resets them at a growth, so
 * the grown network starts from fresh random vectors. A fresh vector's seed is derived from the key, so
 * a resumed run draws exactly the vectors the original would have.
 * L(BN) uses the inference-mode statistics: max_c |gamma_c| / sqrt(movingVariance_c + eps).
 */
import * as tf from '@tensorflow/tfjs';
import { stageSpatialShapes } from '../model/config';
import type { BatchNormState, ResNet } from '../model/resnet';

export interface ConvOperator {
  /** [kh, kw, inChannels, outChannels] */
  kernel: tf.Variable<tf.Rank.R4> | tf.Tensor4D;
  stride: 1 | 2;
  /** Input height, width, channels of the convolution as the network applies it. */
  inputShape: [number, number, number];
}

export interface LipschitzEstimate {
  /** L_block for every block, stage by stage. */
  perBlock: number[];
  mean: number;
  seconds: number;
}

const TINY = 1e-12;

function normalize(x: tf.Tensor4D): tf.Tensor4D {
  return tf.div(x, tf.add(tf.norm(x), TINY));
}

/** Power iteration for convolution operators, with warm-started vectors per kernel. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class ConvSpectralNorm {
  private readonly vectors = new Map<string, tf.Tensor4D>();

  constructor(
    readonly iterations: number,
    private readonly seed = 1,
  ) {}

  /** sigma of one convolution operator; `key` identifies its kernel across calls. */
  sigma(key: string, op: ConvOperator): number {
    const [h, w, c] = op.inputShape;
    const previous = this.vectors.get(key);
    const start =
      previous ??
      tf.tidy(() =>
        normalize(tf.randomNormal([1, h, w, c], 0, 1, 'float32', (this.seed * 7919 + hash32(key)) % 2 ** 31)),
      );
    const [v, sigmaT] = tf.tidy(() => {
      const conv = (x: tf.Tensor4D) => tf.conv2d(x, op.kernel, op.stride, 'same');
      const adjoint = (y: tf.Tensor4D) => tf.conv2dTranspose(y, op.kernel, [1, h, w, c], op.stride, 'same');
      let vv: tf.Tensor4D = start;
      for (let i = 0; i < this.iterations; i++) vv = normalize(adjoint(normalize(conv(vv))));
      return [tf.keep(vv), tf.norm(conv(vv))] as [tf.Tensor4D, tf.Scalar];
    });
    start.dispose();
    this.vectors.set(key, v);
    const sigma = sigmaT.dataSync()[0];
    sigmaT.dispose();
    return sigma;
  }

  /** Forget every vector (at a growth): the next estimates start from random vectors. */
  reset(): void {
    for (const v of this.vectors.values()) v.dispose();
    this.vectors.clear();
  }

  /** The warm-start vectors by kernel key (owned by this object; do not dispose). */
  vectorEntries(): [string, tf.Tensor4D][] {
    return [...this.vectors];
  }

  /** Restore a warm-start vector (from a checkpoint); takes ownership of `vector`. */
  setVector(key: string, vector: tf.Tensor4D): void {
    this.vectors.get(key)?.dispose();
    this.vectors.set(key, vector);
  }

  dispose(): void {
    this.reset();
  }
}

/** max_c |gamma_c| / sqrt(movingVariance_c + eps). */
export function batchNormBound(bn: BatchNormState, epsilon: number): number {
  return tf.tidy(
    () => tf.max(tf.div(tf.abs(bn.gamma), tf.sqrt(tf.add(bn.movingVariance, epsilon)))).dataSync()[0],
  );
}

/** Per-block bounds and their mean for a ResNet, measured on its real feature-map sizes. */
export function estimateLipschitz(model: ResNet, power: ConvSpectralNorm): LipschitzEstimate {
  const t0 = performance.now();
  const [height, width] = model.inputShape;
  const shapes = stageSpatialShapes(height, width);
  const eps = model.batchNorm.epsilon;
  const perBlock: number[] = [];
  let inChannels = model.stages[0].width; // the stem's output width feeds stage 1
  let inSize = shapes[0];
  model.stages.forEach((stage, s) => {
    stage.blocks.forEach((block, b) => {
      const outSize = shapes[s];
      const k1 = `stage${s + 1}/block${b}/conv1`;
      const k2 = `stage${s + 1}/block${b}/conv2`;
      const sigma1 = power.sigma(k1, {
        kernel: block.conv1.kernel,
        stride: block.conv1.stride,
        inputShape: [inSize[0], inSize[1], inChannels],
      });
      const sigma2 = power.sigma(k2, {
        kernel: block.conv2.kernel,
        stride: 1,
        inputShape: [outSize[0], outSize[1], stage.width],
      });
      perBlock.push(
        sigma1 * batchNormBound(block.conv1.bn, eps) * sigma2 * batchNormBound(block.conv2.bn, eps),
      );
      inChannels = stage.width;
      inSize = outSize;
    });
  });
  const mean = perBlock.reduce((a, b) => a + b, 0) / perBlock.length;
  return { perBlock, mean, seconds: (performance.now() - t0) / 1000 };
}
