import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig } from '../../../src/model/config';
import { predictLogits } from '../../../src/model/forward';
import { loadResNet, ModelFormatError, readSavedConfig, saveResNet } from '../../../src/model/io';
import { ResNet } from '../../../src/model/resnet';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-model-'));
  dirs.push(dir);
  return dir;
}

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('saved model directory', () => {
  test('save then load gives the same configuration, weights and predictions', async () => {
    const config = resnetConfig({ depth: 14, stepSize: 0.5 });
    config.stepSizes[2][1] = 0.25;
    const model = ResNet.create(config, { seed: 11 });
    model.stem.bn.movingVariance.assign(tf.fill([16], 3));
    const dir = tempDir();
    await saveResNet(model, dir);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'manifest.json', 'weights.bin']);
    assert.deepEqual(readSavedConfig(dir), model.config);
    const loaded = loadResNet(dir);
    const x = tf.randomNormal([3, 17, 39, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    try {
      assert.deepEqual(loaded.config, model.config);
      const a = predictLogits(model, x);
      const b = predictLogits(loaded, x);
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      tf.dispose([a, b]);
    } finally {
      x.dispose();
      model.dispose();
      loaded.dispose();
    }
  });

  test('a corrupted weights file or a wrong shape is refused with the file and field named', async () => {
    const model = ResNet.create(resnetConfig({ depth: 8 }), { seed: 1 });
    const dir = tempDir();
    await saveResNet(model, dir);
    model.dispose();
    const weights = path.join(dir, 'weights.bin');
    const bytes = fs.readFileSync(weights);
    bytes[100] ^= 0xff;
    fs.writeFileSync(weights, bytes);
    assert.throws(
      () => loadResNet(dir),
      (err: unknown) =>
        err instanceof ModelFormatError && /SHA-256/.test(err.message) && err.message.includes(weights),
    );
    bytes[100] ^= 0xff;
    fs.writeFileSync(weights, bytes);
    const manifestFile = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
    manifest.weights[0].shape = [3, 3, 2, 16];
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    assert.throws(
      () => loadResNet(dir),
      (err: unknown) => err instanceof ModelFormatError && err.location.field === 'stem/conv/kernel',
    );
    const configFile = path.join(dir, 'config.json');
    const saved = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    saved.formatVersion = 99;
    fs.writeFileSync(configFile, JSON.stringify(saved));
    assert.throws(() => readSavedConfig(dir), /formatVersion 99 is not supported/);
  });
});
