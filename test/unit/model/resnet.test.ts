import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig, resnetParamCount } from '../../../src/model/config';
import { InferenceSnapshot, predictLogits } from '../../../src/model/forward';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadResNet, saveResNet } from '../../../src/model/io';
import { cloneBlock, ResNet } from '../../../src/model/resnet';
import { growResNet } from '../../../src/trainer/grow';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

describe('ResNet structure', () => {
  test('parameter count of the built network equals the closed form (depths 14..74, 3 channels, 10 classes)', () => {
    for (const depth of [14, 20, 26, 38, 50, 74]) {
      const model = ResNet.create(resnetConfig({ depth, inputShape: [32, 32, 3], numClasses: 10 }), {
        seed: 1,
      });
      try {
        assert.equal(model.paramCount(), resnetParamCount((depth - 2) / 6, 3, 10), `ResNet-${depth}`);
      } finally {
        model.dispose();
      }
    }
  });

  test('layout: projection shortcuts only at the two downsampling blocks; variable names are stable', () => {
    const model = ResNet.create(resnetConfig({ depth: 20 }), { seed: 1 });
    try {
      const shortcuts = model.stages.map((s) => s.blocks.map((b) => b.shortcut !== undefined));
      assert.deepEqual(shortcuts, [
        [false, false, false],
        [true, false, false],
        [true, false, false],
      ]);
      assert.deepEqual(model.stages[1].blocks[0].shortcut?.kernel.shape, [1, 1, 16, 32]);
      const names = model.namedVariables().map((v) => v.name);
      assert.equal(new Set(names).size, names.length);
      assert.ok(names.includes('stage2/block0/shortcut/bn/moving_variance'));
      assert.equal(model.paramCount(), 271_861);
    } finally {
      model.dispose();
    }
  });

  test('He-normal fan-out initialisation: kernel standard deviation sqrt(2 / (9 * out))', () => {
    const model = ResNet.create(resnetConfig({ depth: 8 }), { seed: 3 });
    try {
      const k = model.stages[2].blocks[0].conv2.kernel; // 3x3x64x64
      const values = Array.from(k.dataSync());
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      const expected = Math.sqrt(2 / (9 * 64));
      assert.ok(Math.abs(std - expected) / expected < 0.05, `std ${std}, expected ${expected}`);
    } finally {
      model.dispose();
    }
  });

  test('the same seed gives the same weights', () => {
    const a = ResNet.create(resnetConfig({ depth: 8 }), { seed: 5 });
    const b = ResNet.create(resnetConfig({ depth: 8 }), { seed: 5 });
    try {
      assert.deepEqual(a.stem.kernel.dataSync(), b.stem.kernel.dataSync());
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('a deeper network can be assembled from existing blocks and independent clones', () => {
    const base = ResNet.create(resnetConfig({ depth: 14, inputShape: [9, 13, 1], numClasses: 3 }), {
      seed: 9,
    });
    const x = tf.randomNormal([4, 9, 13, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    // [B0, B1] -> [B0, B1, copy of B1 with h/2]: n = 2 -> 3, the stem and head are shared.
    const deeper = ResNet.fromParts({
      inputShape: base.inputShape,
      numClasses: base.numClasses,
      featureCount: base.featureCount,
      rrRatioMax: base.rrRatioMax,
      beats: base.beats,
      batchNorm: base.batchNorm,
      stem: base.stem,
      stages: base.stages.map((s) => ({
        width: s.width,
        blocks: [...s.blocks, cloneBlock(s.blocks[1], s.blocks[1].stepSize / 2)],
      })),
      head: base.head,
    });
    try {
      assert.equal(deeper.config.depth, 20);
      assert.deepEqual(deeper.config.stepSizes, [
        [1, 1, 0.5],
        [1, 1, 0.5],
        [1, 1, 0.5],
      ]);
      assert.equal(deeper.paramCount(), resnetParamCount(3, 1, 3));
      const original = deeper.stages[1].blocks[1].conv1.kernel;
      const copy = deeper.stages[1].blocks[2].conv1.kernel;
      assert.notEqual(copy, original);
      assert.deepEqual(copy.dataSync(), original.dataSync());
      copy.assign(tf.zerosLike(copy));
      assert.notEqual(original.dataSync()[0], 0, 'the clone owns its own variables');
      const logits = predictLogits(deeper, x);
      assert.deepEqual(logits.shape, [4, 3]);
      logits.dispose();
    } finally {
      x.dispose();
      deeper.dispose(); // owns the base's blocks, stem and head as well
    }
  });

  test('building, loading and growing models and disposing them leaves no tensor behind', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-leak-'));
    try {
      const saved = ResNet.create(resnetConfig({ depth: 14, featureCount: 3, headHiddenUnits: 4 }), {
        seed: 2,
      });
      await saveResNet(saved, dir);
      saved.dispose();
      const start = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        // What serve does on every hot swap, and the trainer on every growth.
        const loaded = loadResNet(dir);
        const deeper = growResNet(loaded);
        loaded.dispose();
        deeper.dispose();
        ResNet.create(resnetConfig({ depth: 20 }), { seed: i }).dispose();
      }
      assert.equal(tf.memory().numTensors, start);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('inference: folded snapshot equals the batch-norm forward pass; neither leaks tensors', () => {
    const model = ResNet.create(resnetConfig({ depth: 14, stepSize: 0.5 }), { seed: 4 });
    const x = tf.randomNormal([5, 17, 39, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    try {
      // Non-trivial running statistics, as after training.
      for (const v of model.namedVariables()) {
        if (v.name.endsWith('moving_mean')) v.variable.assign(tf.fill(v.variable.shape, 0.1));
        if (v.name.endsWith('moving_variance')) v.variable.assign(tf.fill(v.variable.shape, 2));
      }
      const before = tf.memory().numTensors;
      const a = predictLogits(model, x);
      const snapshot = new InferenceSnapshot(model);
      const b = snapshot.logits(x);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
      const scale = tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
      assert.ok(diff <= 1e-4 * Math.max(1, scale), `max difference ${diff}`);
      assert.deepEqual(a.shape, [5, 5]);
      a.dispose();
      b.dispose();
      snapshot.dispose();
      assert.equal(tf.memory().numTensors, before);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
});

after(() => {
  tf.disposeVariables();
});
