/**
 * Op coverage: every op the model, the trainer and the Lipschitz power iteration use gives the same
 * results on TensorFlow's native kernels (TF 2.21 under tfjs-node 4.22, built for TF 2.9) and on tfjs's
 * pure-JS backend, on small inputs. Where cheap, both are also checked against a plain JavaScript
 * reference. Fails, never skips, when the native backend is missing (unless ECGFLOW_TF_BACKEND=js).
 */
import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig } from '../../../src/model/config';
import { addRelu, batchNormTrain, relu, softmaxCrossEntropy } from '../../../src/model/ops';
import { type BatchNormState, ResNet } from '../../../src/model/resnet';
import { ResNetTrainer, SgdMomentum } from '../../../src/model/train';
import {
  assertClose,
  assertSameOnBackends,
  type Backends,
  onBackends,
  randomValues,
  requireNativeUnlessJs,
} from './compare';

let backends: Backends;

before(async () => {
  backends = await requireNativeUnlessJs();
});

function t4(shape: [number, number, number, number], seed: number, scale = 1): tf.Tensor4D {
  return tf.tensor4d(
    randomValues(shape[0] * shape[1] * shape[2] * shape[3], seed).map((v) => v * scale),
    shape,
  );
}

/** Plain-JS NHWC convolution with TensorFlow's "same" padding (extra padding at the bottom/right). */
function referenceConv2d(
  x: Float32Array,
  [n, h, w, c]: number[],
  k: Float32Array,
  [kh, kw, , o]: number[],
  stride: number,
): Float32Array {
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(w / stride);
  const padTop = Math.floor(Math.max((oh - 1) * stride + kh - h, 0) / 2);
  const padLeft = Math.floor(Math.max((ow - 1) * stride + kw - w, 0) / 2);
  const out = new Float32Array(n * oh * ow * o);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let oc = 0; oc < o; oc++) {
          let sum = 0;
          for (let di = 0; di < kh; di++)
            for (let dj = 0; dj < kw; dj++) {
              const y = i * stride + di - padTop;
              const xx = j * stride + dj - padLeft;
              if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
              for (let ic = 0; ic < c; ic++)
                sum += x[((b * h + y) * w + xx) * c + ic] * k[((di * kw + dj) * c + ic) * o + oc];
            }
          out[((b * oh + i) * ow + j) * o + oc] = sum;
        }
  return out;
}

describe('convolutions', () => {
  test('conv2d, strides 1 and 2, "same" padding (3x3 and 1x1 kernels)', async () => {
    const xShape: [number, number, number, number] = [2, 7, 9, 3];
    for (const [k, stride] of [
      [3, 1],
      [3, 2],
      [1, 2],
    ] as const) {
      const wShape: [number, number, number, number] = [k, k, 3, 4];
      const [out] = await assertSameOnBackends(backends, `conv2d ${k}x${k} stride ${stride}`, () =>
        tf.conv2d(t4(xShape, 1), t4(wShape, 2), stride, 'same'),
      );
      const expected = referenceConv2d(
        randomValues(2 * 7 * 9 * 3, 1),
        xShape,
        randomValues(k * k * 12, 2),
        wShape,
        stride,
      );
      assertClose(out, expected, `conv2d ${k}x${k} stride ${stride} vs plain JS`);
    }
  });

  test('conv2d gradients with respect to input and filter', async () => {
    for (const stride of [1, 2] as const) {
      await assertSameOnBackends(backends, `conv2d gradients, stride ${stride}`, () => {
        const x = t4([2, 7, 9, 3], 3);
        const w = t4([3, 3, 3, 4], 4);
        const upstream = t4([2, Math.ceil(7 / stride), Math.ceil(9 / stride), 4], 5);
        const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, 'same'), upstream));
        return tf.grads(f)([x, w]);
      });
    }
  });

  test('conv2dTranspose is the adjoint of conv2d (power-iteration step), strides 1 and 2', async () => {
    const vShape: [number, number, number, number] = [1, 9, 20, 4];
    for (const stride of [1, 2] as const) {
      const uShape: [number, number, number, number] = [1, Math.ceil(9 / stride), Math.ceil(20 / stride), 6];
      const [convV, convTU] = await assertSameOnBackends(backends, `conv2dTranspose stride ${stride}`, () => {
        const w = t4([3, 3, 4, 6], 6);
        return [
          tf.conv2d(t4(vShape, 7), w, stride, 'same'),
          tf.conv2dTranspose(t4(uShape, 8), w, vShape, stride, 'same'),
        ];
      });
      // <conv(v), u> = <v, conv^T(u)>
      const u = randomValues(
        uShape.reduce((a, b) => a * b),
        8,
      );
      const v = randomValues(
        vShape.reduce((a, b) => a * b),
        7,
      );
      const lhs = convV.reduce((s, val, i) => s + val * u[i], 0);
      const rhs = convTU.reduce((s, val, i) => s + val * v[i], 0);
      assert.ok(
        Math.abs(lhs - rhs) <= 1e-4 * Math.max(1, Math.abs(lhs)),
        `adjoint identity: ${lhs} vs ${rhs}`,
      );
    }
  });
});

function newBn(channels: number): BatchNormState {
  const values = randomValues(channels * 2, 11);
  return {
    gamma: tf.variable(tf.tensor1d(values.slice(0, channels).map((v) => 1 + 0.5 * v))),
    beta: tf.variable(tf.tensor1d(values.slice(channels).map((v) => 0.3 * v))),
    movingMean: tf.variable(tf.fill([channels], 0.2), false),
    movingVariance: tf.variable(tf.fill([channels], 1.5), false),
  };
}

function disposeBn(bn: BatchNormState): void {
  for (const v of [bn.gamma, bn.beta, bn.movingMean, bn.movingVariance]) v.dispose();
}

describe('batch norm', () => {
  const cfg = { decay: 0.9, epsilon: 1e-5 };
  const shape: [number, number, number, number] = [4, 5, 6, 3];

  test('training mode (TensorFlow FusedBatchNormV3 vs tfjs ops): output, running averages, gradients', async () => {
    const [y, mean, variance, dx, dGamma, dBeta] = await assertSameOnBackends(
      backends,
      'batch norm training',
      () => {
        const bn = newBn(3);
        try {
          const x = t4(shape, 12, 2);
          const upstream = t4(shape, 13);
          const out = batchNormTrain(x, bn.gamma, bn.beta, bn, cfg);
          // Second pass for the gradients (it moves the running averages once more, as a training step would).
          const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
            tf.sum(
              tf.mul(batchNormTrain(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, bn, cfg), upstream),
            ),
          )([x, bn.gamma, bn.beta]);
          return [out, bn.movingMean.clone(), bn.movingVariance.clone(), ...grads];
        } finally {
          disposeBn(bn);
        }
      },
    );
    // Plain-JS reference for the forward pass and the (twice applied) running-average update.
    const x = randomValues(
      shape.reduce((a, b) => a * b),
      12,
    ).map((v) => 2 * v);
    const count = shape[0] * shape[1] * shape[2];
    const gb = randomValues(6, 11);
    const expectedY = new Float32Array(x.length);
    for (let c = 0; c < 3; c++) {
      let m = 0;
      for (let i = c; i < x.length; i += 3) m += x[i];
      m /= count;
      let v = 0;
      for (let i = c; i < x.length; i += 3) v += (x[i] - m) ** 2;
      v /= count;
      for (let i = c; i < x.length; i += 3)
        expectedY[i] = ((x[i] - m) / Math.sqrt(v + cfg.epsilon)) * (1 + 0.5 * gb[c]) + 0.3 * gb[3 + c];
      const runMean = 0.2 * 0.81 + m * (0.1 * 0.9 + 0.1);
      const runVar = 1.5 * 0.81 + v * (count / (count - 1)) * (0.1 * 0.9 + 0.1);
      assertClose(Float32Array.of(mean[c]), Float32Array.of(runMean), `running mean, channel ${c}`);
      assertClose(
        Float32Array.of(variance[c]),
        Float32Array.of(runVar),
        `running variance (unbiased), channel ${c}`,
      );
    }
    assertClose(y, expectedY, 'batch norm output vs plain JS');
    // Gradient identities of batch norm: sum over a channel of dx is 0; dBeta is the upstream sum.
    const upstream = randomValues(x.length, 13);
    for (let c = 0; c < 3; c++) {
      let sumDx = 0;
      let sumUp = 0;
      for (let i = c; i < x.length; i += 3) {
        sumDx += dx[i];
        sumUp += upstream[i];
      }
      assert.ok(Math.abs(sumDx) < 1e-3, `sum of dx over channel ${c} is ${sumDx}, expected 0`);
      assertClose(Float32Array.of(dBeta[c]), Float32Array.of(sumUp), `dBeta channel ${c}`);
    }
    assert.equal(dGamma.length, 3);
  });

  test('inference mode (running statistics)', async () => {
    await assertSameOnBackends(backends, 'batch norm inference', () => {
      const bn = newBn(3);
      try {
        return tf.batchNorm(t4(shape, 14), bn.movingMean, bn.movingVariance, bn.beta, bn.gamma, cfg.epsilon);
      } finally {
        disposeBn(bn);
      }
    });
  });
});

describe('activations, residual add, pooling, dense, loss', () => {
  test('relu and add + relu, with gradients', async () => {
    await assertSameOnBackends(backends, 'relu / addRelu', () => {
      const a = t4([2, 3, 4, 5], 20);
      const b = t4([2, 3, 4, 5], 21);
      const upstream = t4([2, 3, 4, 5], 22);
      const [da] = tf.grads((p: tf.Tensor) => tf.sum(tf.mul(relu(p), upstream)))([a]);
      const [dp, dq] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(addRelu(p, q), upstream)))([
        a,
        b,
      ]);
      return [relu(a), tf.add(a, b), addRelu(a, b), da, dp, dq];
    });
  });

  test('global mean pooling and its gradient', async () => {
    await assertSameOnBackends(backends, 'mean pooling', () => {
      const x = t4([3, 5, 10, 4], 23);
      const upstream = tf.tensor2d(randomValues(12, 24), [3, 4]);
      const [dx] = tf.grads((p: tf.Tensor) => tf.sum(tf.mul(tf.mean(p, [1, 2]), upstream)))([x]);
      return [tf.mean(x, [1, 2]), dx, tf.avgPool(x, [5, 10], 1, 'valid')];
    });
  });

  test('dense layer (matMul + bias, plain and fused) with gradients', async () => {
    await assertSameOnBackends(backends, 'dense', () => {
      const x = tf.tensor2d(randomValues(6 * 64, 25), [6, 64]);
      const w = tf.tensor2d(randomValues(64 * 5, 26), [64, 5]);
      const bias = tf.tensor1d(randomValues(5, 27));
      const upstream = tf.tensor2d(randomValues(30, 28), [6, 5]);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(tf.add(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D), c), upstream)),
      )([x, w, bias]);
      return [tf.add(tf.matMul(x, w), bias), tf.fused.matMul({ a: x, b: w, bias }), ...grads];
    });
  });

  test('softmax cross-entropy and its gradient', async () => {
    const [loss, dLogits] = await assertSameOnBackends(backends, 'softmax cross-entropy', () => {
      const logits = tf.tensor2d(
        randomValues(6 * 5, 29).map((v) => 4 * v),
        [6, 5],
      );
      const labels = tf.tensor1d([0, 1, 2, 3, 4, 2], 'int32');
      const [d] = tf.grads((l: tf.Tensor) => softmaxCrossEntropy(l as tf.Tensor2D, labels))([logits]);
      return [softmaxCrossEntropy(logits, labels), d];
    });
    const logits = randomValues(30, 29).map((v) => 4 * v);
    const labels = [0, 1, 2, 3, 4, 2];
    let expected = 0;
    for (let r = 0; r < 6; r++) {
      const row = Array.from(logits.slice(r * 5, r * 5 + 5));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      expected += lse - row[labels[r]];
    }
    assertClose(loss, Float32Array.of(expected / 6), 'cross-entropy vs plain JS');
    assert.equal(dLogits.length, 30);
  });
});

describe('optimizer', () => {
  test('SGD with momentum 0.9 and weight decay 2e-4 (two steps) matches the update rule', async () => {
    const lr = 0.1;
    const mu = 0.9;
    const wd = 2e-4;
    const [decayed, plain] = await assertSameOnBackends(backends, 'sgd momentum', () => {
      const kernel = tf.variable(tf.tensor1d(randomValues(8, 30)));
      const bias = tf.variable(tf.tensor1d(randomValues(4, 31)));
      const opt = new SgdMomentum(
        [
          { variable: kernel, decay: true },
          { variable: bias, decay: false },
        ],
        { learningRate: lr, momentum: mu, weightDecay: wd, weightDecayOn: 'kernels' },
      );
      try {
        for (const seed of [32, 33]) {
          tf.tidy(() =>
            opt.apply({
              [kernel.name]: tf.tensor1d(randomValues(8, seed)),
              [bias.name]: tf.tensor1d(randomValues(4, seed + 10)),
            }),
          );
        }
        return [kernel.clone(), bias.clone()];
      } finally {
        opt.dispose();
        kernel.dispose();
        bias.dispose();
      }
    });
    const reference = (w0: Float32Array, seeds: number[], decay: number): Float32Array => {
      const w = Float64Array.from(w0);
      const v = new Float64Array(w.length);
      for (const seed of seeds) {
        const g = randomValues(w.length, seed);
        for (let i = 0; i < w.length; i++) {
          v[i] = mu * v[i] + g[i] + decay * w[i];
          w[i] -= lr * v[i];
        }
      }
      return Float32Array.from(w);
    };
    assertClose(decayed, reference(randomValues(8, 30), [32, 33], wd), 'kernel after two steps vs plain JS');
    assertClose(
      plain,
      reference(randomValues(4, 31), [42, 43], 0),
      'bias (no decay) after two steps vs plain JS',
    );
  });
});

describe('the whole training step', () => {
  test('one ResNet-8 step gives the same loss and weights on both backends', async () => {
    const names = backends.reference === 'cpu' ? ['cpu'] : ['tensorflow', 'cpu'];
    const results = await onBackends(names, () => {
      const model = ResNet.create(
        resnetConfig({ depth: 8, inputShape: [9, 13, 1], numClasses: 3, stepSize: 0.5 }),
        { seed: 7 },
      );
      const trainer = new ResNetTrainer(model, { learningRate: 0.05 });
      try {
        const x = t4([6, 9, 13, 1], 40);
        const labels = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
        const { loss } = trainer.step(x, labels);
        return [tf.scalar(loss), ...model.namedVariables().map((v) => v.variable.clone())];
      } finally {
        trainer.dispose();
        model.dispose();
      }
    });
    const ref = results.get(names[0]) as Float32Array[];
    const js = results.get('cpu') as Float32Array[];
    assert.ok(Number.isFinite(js[0][0]) && js[0][0] > 0, `loss ${js[0][0]}`);
    ref.forEach((values, i) =>
      assertClose(values, js[i], `training step output ${i} (${names[0]} vs cpu)`, 1e-3),
    );
  });
});
