import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../../src/errors';
import { resnetConfig } from '../../../src/model/config';
import { forwardTrain } from '../../../src/model/forward';
import { ResNet } from '../../../src/model/resnet';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { AdaptiveTrainer, type ImageBatch } from '../../../src/trainer/adaptiveTrainer';
import {
  PAPER_TRAINING_CONFIG,
  type TrainingConfig,
  validateTrainingConfig,
} from '../../../src/trainer/config';

let backend = 'unknown';
before(async () => {
  backend = (await loadTf({ prefer: resolveBackendPreference() })).backend;
});

const SHAPE: [number, number, number] = [9, 13, 1];
const FEATURES = 7; // rr-morphology

const config = (over: Partial<TrainingConfig>): TrainingConfig => ({
  ...PAPER_TRAINING_CONFIG,
  mode: 'vanilla',
  initialDepth: 8,
  finalDepth: 8,
  epochs: 3,
  reserve: 0,
  lipschitzIterations: 2,
  batchSize: 16,
  inputShape: SHAPE,
  numClasses: 3,
  seed: 5,
  features: 'rr-morphology',
  ...over,
});

/** Class = which third of the rows is bright; the first scalar feature also says the class. */
function batches(count: number, size: number): ImageBatch[] {
  let state = 11;
  const rand = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, () => {
    const images = new Float32Array(size * 117);
    const labels = new Int32Array(size);
    const features = new Float32Array(size * FEATURES);
    for (let i = 0; i < size; i++) {
      labels[i] = Math.floor(rand() * 3);
      features[i * FEATURES] = labels[i] - 1;
      for (let r = 0; r < 9; r++)
        for (let c = 0; c < 13; c++)
          images[i * 117 + r * 13 + c] = (Math.floor(r / 3) === labels[i] ? 1 : 0) + 0.3 * rand();
    }
    return { images, labels, count: size, features };
  });
}

describe('image dropout', () => {
  it('a zero in the mask makes the logits depend on the scalar features only', () => {
    const model = ResNet.create(
      resnetConfig({ depth: 8, inputShape: SHAPE, numClasses: 3, featureCount: 2 }),
      { seed: 3 },
    );
    try {
      const logits = tf.tidy(() => {
        // Two different images, the same features: rows 0 and 1 dropped, rows 2 and 3 kept.
        const a = tf.randomNormal([1, ...SHAPE], 0, 1, 'float32', 1);
        const b = tf.randomNormal([1, ...SHAPE], 0, 1, 'float32', 2);
        const x = tf.concat([a, b, a, b]) as tf.Tensor4D;
        const f = tf.tile(tf.tensor2d([[0.5, -1]]), [4, 1]) as tf.Tensor2D;
        const keep = tf.tensor2d([0, 0, 1, 1], [4, 1]);
        return forwardTrain(model, x, 'auto', f, keep).arraySync();
      });
      assert.deepEqual(logits[0], logits[1], 'dropped: the image does not matter');
      assert.notDeepEqual(logits[2], logits[3], 'kept: it does');
    } finally {
      model.dispose();
    }
  });

  it('is refused above the maximum and without scalar features, with a typed error', () => {
    assert.throws(() => validateTrainingConfig(config({ imageDropout: 0.95 })), ConfigError);
    assert.throws(() => validateTrainingConfig(config({ imageDropout: -0.1 })), ConfigError);
    assert.throws(
      () => validateTrainingConfig(config({ imageDropout: 0.5, features: 'none' })),
      (e: unknown) => e instanceof ConfigError && /needs scalar features/.test(e.message),
    );
    assert.equal(validateTrainingConfig(config({ imageDropout: 0.5 })).imageDropout, 0.5);
  });

  it('trains reproducibly from the seed, differs from no dropout, and leaks no tensors', () => {
    const data = batches(4, 16);
    const losses = (imageDropout: number) => {
      const trainer = new AdaptiveTrainer(config({ imageDropout }), backend);
      try {
        trainer.beginEpoch();
        const before = tf.memory().numTensors;
        const out = data.map((b) => trainer.trainBatch(b).loss);
        assert.equal(tf.memory().numTensors, before, 'no tensor left behind per step');
        return out;
      } finally {
        trainer.dispose();
      }
    };
    const a = losses(0.5);
    assert.deepEqual(losses(0.5), a, 'the masks come from (seed, epoch)');
    assert.notDeepEqual(losses(0), a);
  });
});
