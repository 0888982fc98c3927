import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../../src/errors';
import { resnetConfig, resnetParamCount, validateConfig } from '../../../src/model/config';
import { InferenceSnapshot, predictLogits } from '../../../src/model/forward';
import { loadResNet, saveResNet } from '../../../src/model/io';
import { ResNet } from '../../../src/model/resnet';
import { ResNetTrainer } from '../../../src/model/train';
import { growResNet } from '../../../src/trainer/grow';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { scratchDir } from '../../helpers/scratch';

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

const build = (featureCount: number, headHiddenUnits: number, numClasses = 3, seed = 1) =>
  ResNet.create(
    resnetConfig({ depth: 14, inputShape: [9, 13, 1], numClasses, featureCount, headHiddenUnits }),
    { seed },
  );

describe('hidden layer in the classifier head', () => {
  test('closed-form parameter count; the config round-trips; the linear head stays the default', () => {
    const linear = build(7, 0);
    const hidden = build(7, 32);
    try {
      assert.equal(linear.config.headHiddenUnits, 0);
      assert.equal(linear.paramCount(), resnetParamCount(2, 1, 3, 7));
      assert.equal(hidden.config.headHiddenUnits, 32);
      assert.equal(hidden.paramCount(), resnetParamCount(2, 1, 3, 7, 32));
      // (64 + 7 + 1) * 32 + (32 + 1) * 3 in the head instead of (64 + 7 + 1) * 3.
      assert.equal(hidden.paramCount() - linear.paramCount(), 72 * 32 + 33 * 3 - 72 * 3);
      const names = hidden.namedVariables().map((v) => v.name);
      assert.deepEqual(names.slice(-4), [
        'head/hidden/kernel',
        'head/hidden/bias',
        'head/kernel',
        'head/bias',
      ]);
      assert.ok(hidden.namedVariables().find((v) => v.name === 'head/hidden/kernel')?.isKernel);
    } finally {
      linear.dispose();
      hidden.dispose();
    }
  });

  test('invalid sizes are a typed error naming the field', () => {
    const config = resnetConfig({ depth: 14 });
    for (const bad of [-1, 1.5, 5000, Number.NaN]) {
      assert.throws(
        () => validateConfig({ ...config, headHiddenUnits: bad }),
        (err: unknown) => err instanceof ConfigError && err.location.field === 'headHiddenUnits',
        String(bad),
      );
    }
  });

  test('kept by growth, save/load and the folded inference snapshot', async () => {
    const model = build(2, 8);
    const dir = scratchDir('ecgflow-hidden-head-');
    const x = tf.randomNormal([3, 9, 13, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const f = tf.tensor2d([0, 1, -1, 0.5, 2, 0], [3, 2]);
    try {
      const grown = growResNet(model);
      assert.equal(grown.config.headHiddenUnits, 8);
      assert.equal(grown.paramCount(), resnetParamCount(4, 1, 3, 2, 8));
      const same = (a: tf.Tensor, b: tf.Tensor) =>
        assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
      same(grown.head.hidden!.kernel, model.head.hidden!.kernel);
      // Independent copies: the grown network trains without touching the one it came from.
      assert.notEqual(grown.head.hidden!.kernel, model.head.hidden!.kernel);
      grown.dispose();

      await saveResNet(model, dir);
      const loaded = loadResNet(dir);
      const snapshot = new InferenceSnapshot(model);
      try {
        assert.equal(loaded.config.headHiddenUnits, 8);
        const a = predictLogits(model, x, f);
        const b = predictLogits(loaded, x, f);
        const c = snapshot.logits(x, f);
        same(b, a);
        const diff = tf.max(tf.abs(tf.sub(a, c))).dataSync()[0];
        assert.ok(diff < 1e-4, `snapshot differs by ${diff}`);
        tf.dispose([a, b, c]);
      } finally {
        loaded.dispose();
        snapshot.dispose();
      }
    } finally {
      tf.dispose([x, f]);
      model.dispose();
    }
  });

  test('learns an interaction of two features that a linear head cannot (XOR), without leaking tensors', () => {
    // Class 1 when exactly one of the two features is positive; the images are blank, so only the head
    // can tell the beats apart. A linear head separates at most three of the four quadrants (75 %).
    const n = 32;
    const signs = Array.from({ length: n }, (_, i) => [i % 2 === 0 ? 1 : -1, i % 4 < 2 ? 1 : -1]);
    const labels = tf.tensor1d(
      signs.map(([a, b]) => (a * b < 0 ? 1 : 0)),
      'int32',
    );
    const features = tf.tensor2d(signs.flat(), [n, 2]);
    const x = tf.zeros([n, 9, 13, 1]) as tf.Tensor4D;
    const accuracyAfterTraining = (hiddenUnits: number): number => {
      const model = build(2, hiddenUnits, 2, 5);
      const trainer = new ResNetTrainer(model, { learningRate: 0.05 });
      try {
        const tensorsBefore = tf.memory().numTensors;
        for (let i = 0; i < 100; i++) trainer.step(x, labels, features);
        assert.equal(tf.memory().numTensors, tensorsBefore, 'training steps leave no tensors behind');
        return tf.tidy(() => {
          const predicted = tf.argMax(predictLogits(model, x, features), 1);
          return tf.mean(tf.cast(tf.equal(predicted, labels), 'float32')).dataSync()[0];
        });
      } finally {
        trainer.dispose();
        model.dispose();
      }
    };
    try {
      const linear = accuracyAfterTraining(0);
      const hidden = accuracyAfterTraining(16);
      assert.ok(hidden > 0.95, `hidden head accuracy ${hidden}`);
      assert.ok(linear <= 0.8, `linear head accuracy ${linear} (XOR is not linearly separable)`);
    } finally {
      tf.dispose([x, labels, features]);
    }
  });
});
