import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../../../src/errors';
import { resnetConfig } from '../../../src/model/config';
import { InferenceSnapshot } from '../../../src/model/forward';
import { frozenResNetSavedModel } from '../../../src/model/frozenGraph';
import { graphInferenceSupported } from '../../../src/model/graphInference';
import { createInference, resolveInferenceEngine } from '../../../src/model/inference';
import { encodeMessage, intField, mapEntryField, stringField, varint } from '../../../src/model/protobuf';
import { ResNet } from '../../../src/model/resnet';
import { loadTf, resolveBackendPreference, type TfRuntime } from '../../../src/tf/backend';

let rt: TfRuntime;
before(async () => {
  rt = await loadTf({ prefer: resolveBackendPreference() });
});

/** A model whose every weight matters: random head, non-trivial running statistics, h != 1. */
function trainedLike(featureCount: number, seed: number, headHidden?: number): ResNet {
  const model = ResNet.create(
    resnetConfig({ depth: 14, stepSize: 0.5, featureCount, headHiddenUnits: headHidden ?? 0 }),
    { seed },
  );
  tf.tidy(() => {
    for (const v of model.namedVariables()) {
      if (v.name.endsWith('moving_mean'))
        v.variable.assign(tf.randomNormal(v.variable.shape, 0, 0.1, 'float32', seed));
      if (v.name.endsWith('moving_variance'))
        v.variable.assign(tf.randomUniform(v.variable.shape, 0.5, 2, 'float32', seed));
      if (v.name.includes('head'))
        v.variable.assign(tf.randomNormal(v.variable.shape, 0, 0.3, 'float32', seed));
    }
  });
  return model;
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): { diff: number; scale: number } {
  return tf.tidy(() => ({
    diff: tf.max(tf.abs(tf.sub(a, b))).dataSync()[0],
    scale: tf.max(tf.abs(a)).dataSync()[0],
  }));
}

describe('protocol-buffer writer', () => {
  test('varints: one byte below 128, little-endian groups of 7 bits, negatives as 64-bit two complement', () => {
    assert.deepEqual([...varint(1)], [1]);
    assert.deepEqual([...varint(127)], [127]);
    assert.deepEqual([...varint(300)], [0xac, 0x02]);
    assert.deepEqual([...varint(-1)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  test('fields: tag = field number << 3 | wire type; strings and map entries length-delimited', () => {
    assert.deepEqual([...intField(1, 150)], [0x08, 0x96, 0x01]);
    assert.deepEqual([...stringField(2, 'ab')], [0x12, 0x02, 0x61, 0x62]);
    // map<string, M> entry {key: "k", value: {1: 5}} as field 5.
    assert.deepEqual(
      [...encodeMessage([mapEntryField(5, 'k', [intField(1, 5)])])],
      [0x2a, 0x07, 0x0a, 0x01, 0x6b, 0x12, 0x02, 0x08, 0x05],
    );
  });
});

describe('frozen graph of a folded ResNet', () => {
  test('the SavedModel bytes hold one conv2d + bias per convolution and the features input when F > 0', () => {
    const model = trainedLike(4, 1);
    const snapshot = new InferenceSnapshot(model);
    try {
      const bytes = frozenResNetSavedModel(snapshot.frozen(model.inputShape));
      const text = Buffer.from(bytes).toString('latin1');
      // ResNet-14: stem + 6 blocks x 2 convs + 2 projection shortcuts = 15 convolutions.
      assert.equal(text.match(/Conv2D/g)?.length, 15);
      assert.equal(text.match(/AddV2/g)?.length, 6, 'one residual add per block');
      for (const name of ['serving_default', 'features:0', 'x:0', 'logits:0', 'tensorflow/serving/predict'])
        assert.ok(text.includes(name), name);
    } finally {
      snapshot.dispose();
      model.dispose();
    }
  });

  test('shapes are checked before anything is written', () => {
    const model = trainedLike(0, 2);
    const snapshot = new InferenceSnapshot(model);
    try {
      const net = snapshot.frozen(model.inputShape);
      assert.throws(
        () => frozenResNetSavedModel({ ...net, stem: { ...net.stem, bias: new Float32Array(3) } }),
        /stem: bias has 3 values, 16 output channels/,
      );
      assert.throws(() => frozenResNetSavedModel({ ...net, head: [] }), /head has no layers/);
    } finally {
      snapshot.dispose();
      model.dispose();
    }
  });
});

describe('inference engines', () => {
  test('ECGFLOW_INFERENCE: auto by default, graph or eager, anything else a ConfigError naming the setting', () => {
    assert.equal(resolveInferenceEngine({}), 'auto');
    assert.equal(resolveInferenceEngine({ ECGFLOW_INFERENCE: ' Graph ' }), 'graph');
    assert.equal(resolveInferenceEngine({ ECGFLOW_INFERENCE: 'eager' }), 'eager');
    assert.throws(
      () => resolveInferenceEngine({ ECGFLOW_INFERENCE: 'fast' }),
      (err: unknown) => err instanceof ConfigError && /ECGFLOW_INFERENCE "fast"/.test(err.message),
    );
  });

  test('graph and eager give the same logits (features, hidden head layer, batch 1 and 33); neither leaks', () => {
    for (const [featureCount, headHidden] of [
      [0, undefined],
      [10, undefined],
      [12, 8],
    ] as const) {
      const start = tf.memory().numTensors;
      const model = trainedLike(featureCount, 3 + featureCount, headHidden);
      const eager = createInference(model, 'eager');
      const auto = createInference(model, 'auto');
      try {
        assert.equal(eager.engine, 'eager');
        assert.equal(
          auto.engine,
          rt.native ? 'graph' : 'eager',
          'auto takes the graph exactly where the backend can run one',
        );
        assert.equal(graphInferenceSupported(), rt.native);
        for (const batch of [1, 33]) {
          tf.tidy(() => {
            const x = tf.randomNormal([batch, 17, 39, 1], 0, 1, 'float32', batch) as tf.Tensor4D;
            const f =
              featureCount > 0
                ? (tf.randomNormal([batch, featureCount], 0, 1, 'float32', 7) as tf.Tensor2D)
                : undefined;
            const a = eager.logits(x, f);
            const b = auto.logits(x, f);
            assert.deepEqual(b.shape, [batch, 5]);
            const { diff, scale } = maxDiff(a, b);
            assert.ok(scale > 0.1, 'logits are not trivially zero');
            assert.ok(
              diff <= 1e-4 * Math.max(1, scale),
              `F=${featureCount} batch ${batch}: max difference ${diff}`,
            );
          });
        }
      } finally {
        eager.dispose();
        auto.dispose();
        model.dispose();
      }
      assert.equal(tf.memory().numTensors, start, 'the engines released what they held');
    }
  });

  test('feature and image shapes are checked by the graph engine as by the eager one', () => {
    const model = trainedLike(3, 9);
    const inference = createInference(model);
    try {
      tf.tidy(() => {
        const x = tf.zeros([2, 17, 39, 1]) as tf.Tensor4D;
        assert.throws(
          () => inference.logits(x),
          (err: unknown) => err instanceof ConfigError && /needs 3 scalar features/.test(err.message),
        );
        assert.throws(
          () => inference.logits(x, tf.zeros([2, 4]) as tf.Tensor2D),
          /features must be \[2, 3\], got \[2, 4\]/,
        );
        if (inference.engine === 'graph')
          assert.throws(
            () => inference.logits(tf.zeros([2, 17, 40, 1]) as tf.Tensor4D, tf.zeros([2, 3]) as tf.Tensor2D),
            /images must be \[batch, 17, 39, 1\]/,
          );
      });
    } finally {
      inference.dispose();
      model.dispose();
    }
  });

  test('graph: refused without a native backend, else its session is released by dispose', () => {
    const model = trainedLike(0, 11);
    try {
      if (!rt.native) {
        assert.throws(() => createInference(model, 'graph'), ConfigError);
        return;
      }
      const backend = tf.backend() as unknown as { getNumOfSavedModels(): number };
      const sessions = backend.getNumOfSavedModels();
      const graph = createInference(model, 'graph');
      assert.equal(graph.engine, 'graph');
      assert.equal(backend.getNumOfSavedModels(), sessions + 1);
      graph.dispose();
      graph.dispose(); // idempotent
      assert.equal(backend.getNumOfSavedModels(), sessions);
      assert.throws(
        () => tf.tidy(() => graph.logits(tf.zeros([1, 17, 39, 1]) as tf.Tensor4D)),
        /after dispose/,
      );
    } finally {
      model.dispose();
    }
  });

  test('auto falls back to eager with a warning when TensorFlow refuses the graph; graph throws', () => {
    const model = trainedLike(0, 13);
    const backend = tf.backend() as unknown as { loadSavedModelMetaGraph?: (p: string, t: string) => number };
    const original = backend.loadSavedModelMetaGraph;
    if (original === undefined) {
      // Pure JS: nothing to refuse; auto is eager without a word.
      const warnings: string[] = [];
      const inference = createInference(model, 'auto', (m) => warnings.push(m));
      assert.equal(inference.engine, 'eager');
      assert.deepEqual(warnings, []);
      inference.dispose();
      model.dispose();
      return;
    }
    backend.loadSavedModelMetaGraph = () => {
      throw new Error('refused by a test');
    };
    const start = tf.memory().numTensors;
    try {
      const warnings: string[] = [];
      const inference = createInference(model, 'auto', (m) => warnings.push(m));
      assert.equal(inference.engine, 'eager');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /graph inference unavailable \(refused by a test\); classifying with eager/);
      inference.dispose();
      assert.throws(() => createInference(model, 'graph'), /refused by a test/);
      assert.equal(tf.memory().numTensors, start, 'the refused attempts left nothing behind');
    } finally {
      backend.loadSavedModelMetaGraph = original;
      model.dispose();
    }
  });
});
