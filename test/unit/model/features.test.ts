import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../../src/errors';
import { resnetConfig, resnetParamCount } from '../../../src/model/config';
import { LEGACY_RR_RATIO_MAX, RR_RATIO_MAX } from '../../../src/trainer/beatFeatures';
import { InferenceSnapshot, predictLogits } from '../../../src/model/forward';
import { loadResNet, saveResNet } from '../../../src/model/io';
import { softmaxCrossEntropy } from '../../../src/model/ops';
import { ResNet } from '../../../src/model/resnet';
import { ResNetTrainer } from '../../../src/model/train';
import { growResNet } from '../../../src/trainer/grow';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

const small = (featureCount: number, seed = 1) =>
  ResNet.create(resnetConfig({ depth: 14, inputShape: [9, 13, 1], numClasses: 3, featureCount }), { seed });

describe('scalar features beside the image', () => {
  test('the head takes F extra inputs: closed-form parameter count, kept through growth and save/load', async () => {
    const model = small(5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-features-'));
    try {
      assert.equal(model.paramCount(), resnetParamCount(2, 1, 3, 5));
      assert.equal(model.paramCount() - resnetParamCount(2, 1, 3), 5 * 3);
      const grown = growResNet(model);
      assert.equal(grown.featureCount, 5);
      assert.equal(grown.rrRatioMax, RR_RATIO_MAX, 'the RR ratio cap is part of the input contract');
      assert.equal(grown.paramCount(), resnetParamCount(4, 1, 3, 5));
      grown.dispose();
      await saveResNet(model, dir);
      const loaded = loadResNet(dir);
      assert.equal(loaded.featureCount, 5);
      assert.equal(loaded.rrRatioMax, RR_RATIO_MAX);
      const x = tf.randomNormal([2, 9, 13, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
      const f = tf.tensor2d([0, 1, 0, 0, -1, 0.5, 0, 0, 0, 0], [2, 5]);
      const a = predictLogits(model, x, f);
      const b = predictLogits(loaded, x, f);
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      tf.dispose([x, f, a, b]);
      loaded.dispose();
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a model saved before the RR ratio cap existed reads its features with the legacy cap', async () => {
    const model = small(5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-features-'));
    try {
      await saveResNet(model, dir);
      const file = path.join(dir, 'config.json');
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
      assert.equal(saved.config.rrRatioMax, RR_RATIO_MAX);
      delete saved.config.rrRatioMax;
      fs.writeFileSync(file, JSON.stringify(saved));
      const legacy = loadResNet(dir);
      assert.equal(legacy.rrRatioMax, LEGACY_RR_RATIO_MAX);
      assert.equal(legacy.config.rrRatioMax, LEGACY_RR_RATIO_MAX, 'and says so when saved again');
      legacy.dispose();
      saved.config.rrRatioMax = 0.5;
      fs.writeFileSync(file, JSON.stringify(saved));
      assert.throws(
        () => loadResNet(dir),
        (err: unknown) => err instanceof Error && /rrRatioMax must be in \(1, 4\], got 0.5/.test(err.message),
      );
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('features change the logits; missing or misshapen features are a typed error; snapshot agrees', () => {
    const model = small(2);
    const snapshot = new InferenceSnapshot(model);
    const x = tf.randomNormal([3, 9, 13, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const f0 = tf.zeros([3, 2]) as tf.Tensor2D;
    const f1 = tf.ones([3, 2]) as tf.Tensor2D;
    try {
      const a = predictLogits(model, x, f0);
      const b = predictLogits(model, x, f1);
      const c = snapshot.logits(x, f1);
      assert.notDeepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
      const diff = tf.max(tf.abs(tf.sub(b, c))).dataSync()[0];
      assert.ok(diff < 1e-4, `snapshot differs by ${diff}`);
      tf.dispose([a, b, c]);
      assert.throws(() => predictLogits(model, x), ConfigError);
      assert.throws(() => snapshot.logits(x, tf.zeros([3, 3]) as tf.Tensor2D), ConfigError);
    } finally {
      tf.dispose([x, f0, f1]);
      snapshot.dispose();
      model.dispose();
    }
  });

  test('the trainer learns a class that only the features reveal', () => {
    const model = small(1, 5);
    const trainer = new ResNetTrainer(model, { learningRate: 0.05 });
    // Images are pure noise; the class is the sign pattern of the single feature.
    const n = 48;
    const labels = tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % 3),
      'int32',
    );
    const features = tf.tensor2d(
      Array.from({ length: n }, (_, i) => (i % 3) - 1),
      [n, 1],
    );
    const x = tf.randomNormal([n, 9, 13, 1], 0, 1, 'float32', 8) as tf.Tensor4D;
    try {
      for (let i = 0; i < 40; i++) trainer.step(x, labels, features);
      const accuracy = tf.tidy(() => {
        const predicted = tf.argMax(predictLogits(model, x, features), 1);
        return tf.mean(tf.cast(tf.equal(predicted, labels), 'float32')).dataSync()[0];
      });
      assert.ok(accuracy > 0.9, `accuracy ${accuracy}`);
    } finally {
      tf.dispose([x, labels, features]);
      trainer.dispose();
      model.dispose();
    }
  });
});

describe('class-weighted cross-entropy', () => {
  test('equals the weighted mean of per-example losses (PyTorch semantics)', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([2, 0, 0, 0, 1, 0, 0, 0, 3], [3, 3]);
      const labels = tf.tensor1d([0, 2, 2], 'int32');
      const weights = tf.tensor1d([1, 1, 4]);
      const logp = tf.logSoftmax(logits).arraySync() as number[][];
      const ce = [-logp[0][0], -logp[1][2], -logp[2][2]];
      const expected = (1 * ce[0] + 4 * ce[1] + 4 * ce[2]) / 9;
      const got = softmaxCrossEntropy(logits, labels, weights).dataSync()[0];
      assert.ok(Math.abs(got - expected) < 1e-5, `${got} != ${expected}`);
      const plain = softmaxCrossEntropy(logits, labels).dataSync()[0];
      assert.ok(Math.abs(plain - (ce[0] + ce[1] + ce[2]) / 3) < 1e-5);
    });
  });

  test('the trainer refuses weights of the wrong length or sign', () => {
    const model = small(0);
    try {
      assert.throws(() => new ResNetTrainer(model, { classWeights: [1, 2] }), ConfigError);
      assert.throws(() => new ResNetTrainer(model, { classWeights: [1, 0, 2] }), ConfigError);
      const before = tf.memory().numTensors;
      const t = new ResNetTrainer(model, { classWeights: [1, 2, 3] });
      t.dispose();
      assert.equal(tf.memory().numTensors, before, 'weights tensor disposed with the trainer');
    } finally {
      model.dispose();
    }
  });
});
