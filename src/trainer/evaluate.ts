/**
 * Inference-mode evaluation of a ResNet on a set of images: loss, accuracy and the predicted class of
 * every example, in batches, on a BN-folded snapshot of the weights.
 */
import * as tf from '@tensorflow/tfjs';
import type { Classifier } from '../model/classifier';
import { createInference } from '../model/inference';
import { softmaxCrossEntropy } from '../model/ops';
import type { ResNet } from '../model/resnet';
import { ConfigError } from '../errors';

export interface EvaluationResult {
  loss: number;
  accuracy: number;
  /** Predicted class per example, in input order. */
  predictions: Int32Array;
  /** Softmax probabilities, row-major [count, classes]: what an operating point other than arg-max needs. */
  probabilities: Float32Array;
}

/** Rows [count, F] of a flat feature array as a tensor; undefined when the model takes no features. */
export function featureTensor(
  features: Float32Array | undefined,
  count: number,
  featureCount: number,
  from = 0,
): tf.Tensor2D | undefined {
  if (featureCount === 0) return undefined;
  if (features === undefined || features.length < (from + count) * featureCount)
    throw new ConfigError(
      `the model takes ${featureCount} features per beat; ${features === undefined ? 'none were given' : `only ${features.length} values for ${from + count} beats`}`,
      'features',
    );
  return tf.tensor2d(features.subarray(from * featureCount, (from + count) * featureCount), [
    count,
    featureCount,
  ]);
}

/** What evaluation reads: images row-major [count, h, w, c], labels, batch size, features [count, F]. */
type EvaluationArgs = [
  images: Float32Array,
  labels: Int32Array,
  count: number,
  batchSize?: number,
  features?: Float32Array,
];

export function evaluateModel(model: ResNet, ...args: EvaluationArgs): EvaluationResult {
  const inference = createInference(model);
  try {
    return evaluateInference(
      { inference, inputShape: model.inputShape, numClasses: model.numClasses },
      ...args,
    );
  } finally {
    inference.dispose();
  }
}

/** The same with a frozen model or ensemble (model/classifier.ts); its inference is not disposed. */
export function evaluateInference(
  classifier: Pick<Classifier, 'inference' | 'numClasses'> & {
    inputShape: readonly [number, number, number];
  },
  images: Float32Array,
  labels: Int32Array,
  count: number,
  batchSize = 100,
  features?: Float32Array,
): EvaluationResult {
  const { inference, inputShape, numClasses } = classifier;
  const [h, w, c] = inputShape;
  const size = h * w * c;
  const predictions = new Int32Array(count);
  const k = numClasses;
  const probabilities = new Float32Array(count * k);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const [loss, predicted, p] = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(start * size, (start + n) * size), [n, h, w, c]);
      const y = tf.tensor1d(labels.subarray(start, start + n), 'int32');
      const logits = inference.logits(x, featureTensor(features, n, inference.featureCount, start));
      return [
        softmaxCrossEntropy(logits, y).dataSync()[0],
        tf.argMax(logits, 1).dataSync() as Int32Array,
        tf.softmax(logits).dataSync() as Float32Array,
      ] as const;
    });
    probabilities.set(p, start * k);
    lossSum += loss * n;
    for (let i = 0; i < n; i++) {
      predictions[start + i] = predicted[i];
      if (predicted[i] === labels[start + i]) correct++;
    }
  }
  return {
    loss: count > 0 ? lossSum / count : 0,
    accuracy: count > 0 ? correct / count : 0,
    predictions,
    probabilities,
  };
}
