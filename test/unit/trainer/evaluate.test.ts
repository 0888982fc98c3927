import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig } from '../../../src/model/config';
import { predictLogits } from '../../../src/model/forward';
import { ResNet } from '../../../src/model/resnet';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { evaluateModel } from '../../../src/trainer/evaluate';

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

describe('evaluateModel', () => {
  it('returns per-beat softmax probabilities that agree with the predictions, across batch boundaries', () => {
    const model = ResNet.create(
      resnetConfig({ depth: 8, inputShape: [9, 13, 1], numClasses: 3, featureCount: 2 }),
      {
        seed: 5,
      },
    );
    const count = 7;
    const images = Float32Array.from({ length: count * 9 * 13 }, (_, i) => Math.sin(i * 0.37));
    const features = Float32Array.from({ length: count * 2 }, (_, i) => (i % 5) - 2);
    const labels = new Int32Array(count);
    const before = tf.memory().numTensors;
    const result = evaluateModel(model, images, labels, count, 3, features);
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    assert.equal(result.probabilities.length, count * 3);
    const expected = tf.tidy(() =>
      Array.from(
        tf
          .softmax(
            predictLogits(model, tf.tensor4d(images, [count, 9, 13, 1]), tf.tensor2d(features, [count, 2])),
          )
          .dataSync(),
      ),
    );
    for (let i = 0; i < count; i++) {
      const row = Array.from(result.probabilities.subarray(i * 3, i * 3 + 3));
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${i} sums to 1`);
      assert.equal(
        row.indexOf(Math.max(...row)),
        result.predictions[i],
        `row ${i}: arg-max is the prediction`,
      );
      row.forEach((p, c) => assert.ok(Math.abs(p - expected[i * 3 + c]) < 1e-4, `beat ${i} class ${c}`));
    }
    model.dispose();
  });
});
