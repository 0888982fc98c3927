import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig, resnetParamCount } from '../../../src/model/config';
import { predictLogits } from '../../../src/model/forward';
import { ResNet } from '../../../src/model/resnet';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { growResNet } from '../../../src/trainer/grow';
import { ConvSpectralNorm, batchNormBound, estimateLipschitz } from '../../../src/trainer/lipschitz';

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

/** Largest eigenvalue of a symmetric matrix by cyclic Jacobi rotations (exact to rounding). */
function largestEigenvalue(a: number[][]): number {
  const n = a.length;
  const m = a.map((r) => [...r]);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p][q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p];
          const mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k];
          const mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
      }
    }
  }
  return Math.max(...m.map((r, i) => r[i]));
}

/** The convolution as an explicit matrix (columns = images of the basis vectors), then its spectral norm. */
function exactConvNorm(kernel: tf.Tensor4D, stride: 1 | 2, shape: [number, number, number]): number {
  const nIn = shape[0] * shape[1] * shape[2];
  const columns: Float32Array[] = [];
  for (let i = 0; i < nIn; i++) {
    const basis = new Float32Array(nIn);
    basis[i] = 1;
    columns.push(
      tf.tidy(
        () => tf.conv2d(tf.tensor4d(basis, [1, ...shape]), kernel, stride, 'same').dataSync() as Float32Array,
      ),
    );
  }
  const nOut = columns[0].length;
  const gram = Array.from({ length: nIn }, (_, i) =>
    Array.from({ length: nIn }, (_, j) => {
      let sum = 0;
      for (let k = 0; k < nOut; k++) sum += columns[i][k] * columns[j][k];
      return sum;
    }),
  );
  return Math.sqrt(largestEigenvalue(gram));
}

describe('spectral norm of convolution operators by power iteration', () => {
  for (const [stride, shape] of [
    [1, [5, 6, 2]],
    [2, [5, 7, 2]],
  ] as [1 | 2, [number, number, number]][]) {
    it(`matches the exact norm of the explicit matrix (stride ${stride}, input ${shape.join('x')}, zero padding)`, () => {
      const kernel = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
      const exact = exactConvNorm(kernel, stride, shape);
      // Close leading singular values make convergence slow; warm starts across epochs do the same in training.
      const power = new ConvSpectralNorm(1000, 3);
      const estimate = power.sigma('k', { kernel, stride, inputShape: shape });
      assert.ok(Math.abs(estimate - exact) / exact < 1e-3, `power iteration ${estimate} vs exact ${exact}`);
      // Not the reshaped-kernel norm: that ignores the padding and the input size.
      power.dispose();
      kernel.dispose();
    });
  }

  it('warm-starts: a second call with few iterations stays at the converged value', () => {
    const kernel = tf.randomNormal([3, 3, 4, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
    const power = new ConvSpectralNorm(150, 5);
    const first = power.sigma('k', { kernel, stride: 1, inputShape: [6, 6, 4] });
    const coldPower = new ConvSpectralNorm(2, 5);
    const cold = coldPower.sigma('k', { kernel, stride: 1, inputShape: [6, 6, 4] });
    coldPower.dispose();
    assert.ok(
      cold < first * 0.999,
      'two cold iterations must not already be converged (else the test proves nothing)',
    );
    const warm = Object.assign(power, { iterations: 2 }).sigma('k', {
      kernel,
      stride: 1,
      inputShape: [6, 6, 4],
    });
    assert.ok(Math.abs(warm - first) / first < 1e-4);
    power.dispose();
    kernel.dispose();
  });
});

describe('block Lipschitz bounds of a ResNet', () => {
  it('batch-norm bound is max |gamma| / sqrt(running variance + eps)', () => {
    const bn = {
      gamma: tf.variable(tf.tensor1d([0.5, -2, 1])),
      beta: tf.variable(tf.zeros([3]) as tf.Tensor1D),
      movingMean: tf.variable(tf.zeros([3]) as tf.Tensor1D),
      movingVariance: tf.variable(tf.tensor1d([0.25, 4, 1])),
    };
    const got = batchNormBound(bn, 1e-5);
    assert.ok(
      Math.abs(
        got - Math.max(0.5 / Math.sqrt(0.25 + 1e-5), 2 / Math.sqrt(4 + 1e-5), 1 / Math.sqrt(1 + 1e-5)),
      ) < 1e-6,
    );
    for (const v of Object.values(bn)) v.dispose();
  });

  it('gives one bound per block, their mean, and leaks no tensors across epochs', () => {
    const model = ResNet.create(resnetConfig({ depth: 14, inputShape: [17, 39, 1] }), { seed: 2 });
    const power = new ConvSpectralNorm(10);
    const first = estimateLipschitz(model, power);
    assert.equal(first.perBlock.length, 6);
    assert.ok(first.perBlock.every((l) => Number.isFinite(l) && l > 0));
    assert.ok(Math.abs(first.mean - first.perBlock.reduce((a, b) => a + b, 0) / 6) < 1e-9);
    const tensors = tf.memory().numTensors;
    estimateLipschitz(model, power);
    estimateLipschitz(model, power);
    assert.equal(tf.memory().numTensors, tensors);
    power.dispose();
    model.dispose();
  });
});

describe('growth', () => {
  it('doubles depth 20 -> 38 -> 74 with the closed-form parameter counts', () => {
    const m20 = ResNet.create(resnetConfig({ depth: 20, inputShape: [17, 39, 1] }), { seed: 3 });
    const m38 = growResNet(m20);
    const m74 = growResNet(m38);
    assert.deepEqual([m20.depth, m38.depth, m74.depth], [20, 38, 74]);
    assert.deepEqual(
      [m20.paramCount(), m38.paramCount(), m74.paramCount()],
      [3, 6, 12].map((n) => resnetParamCount(n, 1, 5)),
    );
    assert.deepEqual(
      m38.config.stepSizes,
      [0, 1, 2].map(() => new Array(6).fill(0.5)),
    );
    assert.deepEqual(m74.config.stepSizes[2], new Array(12).fill(0.25));
    for (const m of [m20, m38, m74]) m.dispose();
  });

  it('keeps the inference-mode function close (exact copies, h halved) and is independent of the original', () => {
    // The grown stage spends the same total time n*h, but B0 now gets h/2 and B1 3h/2, so outputs differ by
    // O(h * |F1 - F0|): close for small h, which is what cloning from the nearest time point promises.
    const model = ResNet.create(resnetConfig({ depth: 14, inputShape: [17, 39, 1], stepSize: 0.02 }), {
      seed: 4,
    });
    const x = tf.randomNormal([8, 17, 39, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    const grown = growResNet(model);
    const before = predictLogits(model, x);
    const after = predictLogits(grown, x);
    const relative = tf.tidy(() => tf.div(tf.norm(tf.sub(after, before)), tf.norm(before)).dataSync()[0]);
    assert.ok(relative < 0.03, `outputs moved by ${relative} relative`);
    // Training the grown copy must not touch the original's variables.
    const k0 = model.stages[0].blocks[1].conv1.kernel;
    const snapshot = k0.dataSync().slice();
    grown.stages[0].blocks[1].conv1.kernel.assign(tf.zerosLike(grown.stages[0].blocks[1].conv1.kernel));
    assert.deepEqual(k0.dataSync(), snapshot);
    for (const t of [x, before, after]) t.dispose();
    grown.dispose();
    model.dispose();
  });
});
