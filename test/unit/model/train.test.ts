import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig } from '../../../src/model/config';
import { InferenceSnapshot, predictLogits } from '../../../src/model/forward';
import type { OpsMode } from '../../../src/model/ops';
import { ResNet } from '../../../src/model/resnet';
import { ResNetTrainer } from '../../../src/model/train';
import { loadTf, resolveBackendPreference, type TfRuntime } from '../../../src/tf/backend';

let runtime: TfRuntime;

before(async () => {
  runtime = await loadTf({ prefer: resolveBackendPreference() });
});

/** A learnable toy problem: the class is which third of the image (by rows) is bright. */
function toyBatch(batch: number, seed: number): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  return tf.tidy(() => {
    const labels = tf.tensor1d(
      Array.from({ length: batch }, (_, i) => (i + seed) % 3),
      'int32',
    );
    const rows = tf.range(0, 9).div(3).floor().cast('int32'); // 0,0,0,1,1,1,2,2,2
    const bright = tf.cast(tf.equal(rows.reshape([1, 9]), labels.reshape([batch, 1])), 'float32'); // [batch, 9]
    const noise = tf.randomNormal([batch, 9, 13, 1], 0, 0.3, 'float32', seed);
    const x = tf.add(bright.reshape([batch, 9, 1, 1]), noise) as tf.Tensor4D;
    return { x, labels };
  });
}

describe('training step', () => {
  for (const ops of ['auto', 'portable'] as OpsMode[]) {
    test(`training steps and predictions leave tf.memory().numTensors flat (ops: ${ops})`, () => {
      const model = ResNet.create(resnetConfig({ depth: 8, inputShape: [9, 13, 1], numClasses: 3 }), {
        seed: 1,
      });
      const trainer = new ResNetTrainer(model, { ops });
      const { x, labels } = toyBatch(8, 1);
      try {
        trainer.step(x, labels); // first step may create lazily cached kernels
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) trainer.step(x, labels);
        trainer.setLearningRate(0.01);
        trainer.step(x, labels);
        predictLogits(model, x).dispose();
        const snapshot = new InferenceSnapshot(model);
        snapshot.logits(x).dispose();
        snapshot.dispose();
        assert.equal(
          tf.memory().numTensors,
          before,
          `tensors after steps and predictions (backend ${runtime.backend})`,
        );
      } finally {
        x.dispose();
        labels.dispose();
        trainer.dispose();
        model.dispose();
      }
    });
  }

  test('the loss falls on a learnable problem and running statistics move', () => {
    const model = ResNet.create(resnetConfig({ depth: 8, inputShape: [9, 13, 1], numClasses: 3 }), {
      seed: 2,
    });
    const trainer = new ResNetTrainer(model, { learningRate: 0.05 });
    const { x, labels } = toyBatch(24, 3);
    try {
      const meanBefore = Array.from(model.stem.bn.movingMean.dataSync());
      const first = trainer.step(x, labels);
      let last = first;
      for (let i = 0; i < 15; i++) last = trainer.step(x, labels);
      assert.ok(last.loss < first.loss * 0.7, `loss ${first.loss} -> ${last.loss}`);
      assert.equal(last.batchSize, 24);
      assert.ok(last.correct >= 0 && last.correct <= 24);
      assert.notDeepEqual(Array.from(model.stem.bn.movingMean.dataSync()), meanBefore);
      const accuracy = tf.tidy(() => {
        const probs = tf.softmax(predictLogits(model, x));
        return tf.mean(tf.cast(tf.equal(tf.argMax(probs, 1), labels), 'float32')).dataSync()[0];
      });
      assert.ok(accuracy > 0.5, `inference accuracy on the training batch ${accuracy}`);
    } finally {
      x.dispose();
      labels.dispose();
      trainer.dispose();
      model.dispose();
    }
  });

  test('weight decay defaults to conv and dense kernels; "all" covers every trainable variable', () => {
    const model = ResNet.create(resnetConfig({ depth: 8, inputShape: [9, 13, 1], numClasses: 3 }), {
      seed: 2,
    });
    try {
      // With zero gradients only the decay moves weights: w -= lr * wd * w.
      for (const scope of ['kernels', 'all'] as const) {
        const trainer = new ResNetTrainer(model, {
          learningRate: 1,
          weightDecay: 0.5,
          momentum: 0,
          weightDecayOn: scope,
        });
        const gamma = model.stem.bn.gamma;
        const kernel = model.stem.kernel;
        const g0 = gamma.dataSync()[0];
        const k0 = kernel.dataSync()[0];
        tf.tidy(() =>
          trainer.optimizer.apply({ [gamma.name]: tf.zerosLike(gamma), [kernel.name]: tf.zerosLike(kernel) }),
        );
        assert.ok(Math.abs(kernel.dataSync()[0] - k0 * 0.5) < 1e-6, `${scope}: kernel decayed`);
        assert.ok(
          Math.abs(gamma.dataSync()[0] - (scope === 'all' ? g0 * 0.5 : g0)) < 1e-6,
          `${scope}: gamma`,
        );
        trainer.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});
