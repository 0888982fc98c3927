/**
 * The few composite operations of the training step, each in two implementations that compute the same
 * thing:
 *   - `native`: one TensorFlow op forward and one backward through tfjs-node's binding, wrapped in
 *     tf.customGrad (batch norm in training mode = FusedBatchNormV3 / FusedBatchNormGradV3, which also
 *     updates the running averages; ReLU backward = ReluGrad);
 *   - `portable`: ordinary tfjs ops, differentiated by tfjs's tape (used on the pure-JS backend, and as the
 *     reference the native form is tested against).
 * tfjs builds the batch-norm gradient from about twenty elementwise ops over the full activation tensor
 * and the ReLU gradient from six, so on a CPU these fused forms are where a training step wins most.
 */
import * as tf from '@tensorflow/tfjs';
import { activeNativeBackend, attr, type NativeKernelBackend, runOp } from '../tf/native';
import type { BatchNormConfig } from './config';
import type { BatchNormState } from './resnet';

/** `auto`: native fused ops when the TensorFlow backend is active; `portable`: always plain tfjs ops. */
export type OpsMode = 'auto' | 'portable';

function nativeFor(mode: OpsMode): NativeKernelBackend | undefined {
  return mode === 'auto' ? activeNativeBackend() : undefined;
}

// ------------------------------------------------------------------------------------------- batch norm

/**
 * Batch norm in training mode on NHWC input: normalise with the batch mean and (biased) batch variance,
 * then `y = scale * xHat + offset`; as a side effect the running averages in `bn` move towards the batch
 * statistics: `moving = decay * moving + (1 - decay) * batch`, with the unbiased batch variance
 * (PyTorch's convention, which the reference code follows). `scale`/`offset` are passed separately from
 * `bn.gamma`/`bn.beta` so that a block can fold its step size h into them.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  bn: BatchNormState,
  cfg: BatchNormConfig,
  mode: OpsMode = 'auto',
): tf.Tensor4D {
  const native = nativeFor(mode);
  return native === undefined
    ? portableBatchNormTrain(x, scale, offset, bn, cfg)
    : nativeBatchNormTrain(native, x, scale, offset, bn, cfg);
}

function portableBatchNormTrain(
  x: tf.Tensor4D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  bn: BatchNormState,
  cfg: BatchNormConfig,
): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const y = tf.batchNorm(x, mean, variance, offset, scale, cfg.epsilon) as tf.Tensor4D;
  const count = x.shape[0] * x.shape[1] * x.shape[2];
  const bessel = count > 1 ? count / (count - 1) : 1;
  tf.tidy(() => {
    const m = tf.add(tf.mul(bn.movingMean, cfg.decay), tf.mul(mean, 1 - cfg.decay)) as tf.Tensor1D;
    const v = tf.add(
      tf.mul(bn.movingVariance, cfg.decay),
      tf.mul(variance, (1 - cfg.decay) * bessel),
    ) as tf.Tensor1D;
    bn.movingMean.assign(m);
    bn.movingVariance.assign(v);
  });
  return y;
}

/** The running-statistics variables of the batch norm being computed (customGrad passes only tensors). */
let pendingBn: BatchNormState | undefined;
const nativeBnOps = new Map<
  string,
  (x: tf.Tensor4D, scale: tf.Tensor1D, offset: tf.Tensor1D) => tf.Tensor4D
>();

function nativeBatchNormTrain(
  b: NativeKernelBackend,
  x: tf.Tensor4D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  bn: BatchNormState,
  cfg: BatchNormConfig,
): tf.Tensor4D {
  const key = `${cfg.epsilon}/${cfg.decay}`;
  let op = nativeBnOps.get(key);
  if (op === undefined) {
    op = makeNativeBatchNorm(b, cfg);
    nativeBnOps.set(key, op);
  }
  pendingBn = bn;
  try {
    return op(x, scale, offset);
  } finally {
    pendingBn = undefined;
  }
}

function makeNativeBatchNorm(
  b: NativeKernelBackend,
  cfg: BatchNormConfig,
): (x: tf.Tensor4D, scale: tf.Tensor1D, offset: tf.Tensor1D) => tf.Tensor4D {
  const forwardAttrs = [
    attr.float32Type(b, 'T'),
    attr.float32Type(b, 'U'),
    attr.float(b, 'epsilon', cfg.epsilon),
    // TensorFlow blends the running averages itself: new = (1 - f) * old + f * batch.
    attr.float(b, 'exponential_avg_factor', 1 - cfg.decay),
    attr.string(b, 'data_format', 'NHWC'),
    attr.bool(b, 'is_training', true),
  ];
  const backwardAttrs = [
    attr.float32Type(b, 'T'),
    attr.float32Type(b, 'U'),
    attr.float(b, 'epsilon', cfg.epsilon),
    attr.string(b, 'data_format', 'NHWC'),
    attr.bool(b, 'is_training', true),
  ];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, scale, offset] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const bn = pendingBn;
    if (bn === undefined) throw new Error('native batch norm called without its running statistics');
    const [y, runningMean, runningVariance, reserve1, reserve2, reserve3] = runOp(
      b,
      'FusedBatchNormV3',
      forwardAttrs,
      [x, scale, offset, bn.movingMean, bn.movingVariance],
      6,
    );
    bn.movingMean.assign(runningMean as tf.Tensor1D);
    bn.movingVariance.assign(runningVariance as tf.Tensor1D);
    save([x, scale, reserve1, reserve2, reserve3]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dx, dScale, dOffset, extra4, extra5] = runOp(
          b,
          'FusedBatchNormGradV3',
          backwardAttrs,
          [dy, ...saved],
          5,
        );
        extra4.dispose();
        extra5.dispose();
        return [dx, dScale, dOffset];
      },
    };
  });
  return op as unknown as (x: tf.Tensor4D, scale: tf.Tensor1D, offset: tf.Tensor1D) => tf.Tensor4D;
}

/** Batch norm in inference mode (running statistics); tfjs-node runs it as one FusedBatchNorm op. */
export function batchNormInference(
  x: tf.Tensor4D,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  bn: BatchNormState,
  epsilon: number,
): tf.Tensor4D {
  return tf.batchNorm(x, bn.movingMean, bn.movingVariance, offset, scale, epsilon) as tf.Tensor4D;
}

// ------------------------------------------------------------------------------------------------- ReLU

let nativeRelu: ((x: tf.Tensor) => tf.Tensor) | undefined;
let nativeAddRelu: ((a: tf.Tensor, c: tf.Tensor) => tf.Tensor) | undefined;
let nativeReluBackend: NativeKernelBackend | undefined;

function reluOps(b: NativeKernelBackend): {
  relu: (x: tf.Tensor) => tf.Tensor;
  addRelu: (a: tf.Tensor, c: tf.Tensor) => tf.Tensor;
} {
  if (nativeReluBackend !== b || nativeRelu === undefined || nativeAddRelu === undefined) {
    const t = [attr.float32Type(b, 'T')];
    const reluGrad = (dy: tf.Tensor, y: tf.Tensor): tf.Tensor => runOp(b, 'ReluGrad', t, [dy, y], 1)[0];
    nativeRelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const save = args[1] as tf.GradSaveFunc;
      const y = runOp(b, 'Relu', t, [x], 1)[0];
      save([y]);
      return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [reluGrad(dy, saved[0])] };
    });
    nativeAddRelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [a, c] = args as tf.Tensor[];
      const save = args[2] as tf.GradSaveFunc;
      const sum = runOp(b, 'AddV2', t, [a, c], 1)[0];
      const y = runOp(b, 'Relu', t, [sum], 1)[0];
      sum.dispose();
      save([y]);
      return {
        value: y,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const g = reluGrad(dy, saved[0]);
          // Two handles on one buffer: tfjs disposes accumulated gradients one by one.
          return [g, g.clone()];
        },
      };
    });
    nativeReluBackend = b;
  }
  return { relu: nativeRelu, addRelu: nativeAddRelu };
}

/** ReLU whose gradient is TensorFlow's ReluGrad on the native backend. */
export function relu<T extends tf.Tensor>(x: T, mode: OpsMode = 'auto'): T {
  const native = nativeFor(mode);
  return (native === undefined ? tf.relu(x) : reluOps(native).relu(x)) as T;
}

/** ReLU(a + b), the end of a residual block, with one fused gradient on the native backend. */
export function addRelu<T extends tf.Tensor>(a: T, b: T, mode: OpsMode = 'auto'): T {
  const native = nativeFor(mode);
  return (native === undefined ? tf.relu(tf.add(a, b)) : reluOps(native).addRelu(a, b)) as T;
}

// ---------------------------------------------------------------------------------------------- loss

/** Mean softmax cross-entropy of `logits` [batch, K] against integer class labels [batch]. */
export function softmaxCrossEntropy(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  classWeights?: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const classes = tf.cast(labels, 'int32');
    const oneHot = tf.oneHot(classes, logits.shape[1]);
    const logProbs = tf.logSoftmax(logits);
    const perExample = tf.neg(tf.sum(tf.mul(oneHot, logProbs), 1));
    if (classWeights === undefined) return tf.mean(perExample) as tf.Scalar;
    // PyTorch's CrossEntropyLoss(weight=...) semantics: a weighted mean, normalised by the batch's weights,
    // so the loss scale (and with it the learning rate's meaning) does not depend on the class mix.
    const w = tf.gather(classWeights, classes);
    return tf.div(tf.sum(tf.mul(w, perExample)), tf.sum(w)) as tf.Scalar;
  });
}
