import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadClassifier } from '../../../src/model/classifier';
import { resnetConfig } from '../../../src/model/config';
import { ENSEMBLE_FILE, readEnsemble, writeEnsemble } from '../../../src/model/ensemble';
import { createInference } from '../../../src/model/inference';
import { loadResNet, ModelFormatError, saveResNet } from '../../../src/model/io';
import { findTrainingProvenance } from '../../../src/model/provenance';
import { ResNet } from '../../../src/model/resnet';
import {
  loadServingModel,
  versionOfModelDir,
  weightsVersionOfModelDir,
} from '../../../src/serving/modelManager';
import { evaluateInference, evaluateModel } from '../../../src/trainer/evaluate';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-ensemble-'));
const dirs: Record<string, string> = {};

/** A saved model whose head is random enough that members disagree. */
async function saved(name: string, depth: number, seed: number, featureCount = 5): Promise<string> {
  const model = ResNet.create(resnetConfig({ depth, featureCount }), { seed });
  tf.tidy(() => {
    for (const v of model.namedVariables())
      if (v.name.startsWith('head'))
        v.variable.assign(tf.randomNormal(v.variable.shape, 0, 1, 'float32', seed));
  });
  const dir = path.join(root, name);
  await saveResNet(model, dir);
  model.dispose();
  return dir;
}

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
  dirs.a = await saved('a', 14, 1);
  dirs.b = await saved('b', 14, 2);
  dirs.c = await saved('c', 20, 3);
  dirs.noFeatures = await saved('no-features', 14, 4, 0);
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('ensembles of trained models', () => {
  test('written and read back: members copied in, depths may differ, beats must be read alike', () => {
    const out = path.join(root, 'abc');
    const members = writeEnsemble([dirs.a, dirs.b, dirs.c], out).memberDirs;
    assert.deepEqual(
      members.map((m) => path.basename(m)),
      ['member-1', 'member-2', 'member-3'],
    );
    const { memberDirs, configs, protocol } = readEnsemble(out);
    assert.deepEqual(memberDirs, members);
    assert.equal(protocol, undefined, 'not recorded when not known');
    assert.deepEqual(
      configs.map((c) => c.depth),
      [14, 14, 20],
    );
    assert.throws(
      () => writeEnsemble([dirs.a, dirs.noFeatures], path.join(root, 'bad')),
      (err: unknown) => err instanceof ModelFormatError && /0 vs 5 scalar features/.test(err.message),
    );
    assert.throws(() => writeEnsemble([dirs.a], path.join(root, 'one')), /at least two members/);
    // The members' training protocol, for evaluate (src/model/provenance.ts).
    const inter = path.join(root, 'inter');
    writeEnsemble([dirs.a, dirs.b], inter, 'inter');
    assert.equal(readEnsemble(inter).protocol, 'inter');
    assert.deepEqual(findTrainingProvenance(inter), {
      protocol: 'inter',
      fraction: 1,
      seed: 1,
      runDir: inter,
    });
    const file = path.join(inter, ENSEMBLE_FILE);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), protocol: 'ds2' }));
    assert.throws(() => readEnsemble(inter), /protocol must be "intra" or "inter", got "ds2"/);
    assert.throws(() => writeEnsemble([dirs.a, dirs.b], out), /exists and is not empty/);
  });

  test('a hand-edited ensemble.json is checked: format, at least two members, members inside the directory', () => {
    const out = path.join(root, 'edited');
    writeEnsemble([dirs.a, dirs.b], out);
    const file = path.join(out, ENSEMBLE_FILE);
    const original = fs.readFileSync(file, 'utf8');
    const edit = (change: (j: Record<string, unknown>) => void) => {
      const j = JSON.parse(original) as Record<string, unknown>;
      change(j);
      fs.writeFileSync(file, JSON.stringify(j));
    };
    edit((j) => (j.members = ['member-1', '../a']));
    assert.throws(() => readEnsemble(out), /"..\/a" is not inside the ensemble directory/);
    edit((j) => (j.members = ['member-1', 7]));
    assert.throws(() => readEnsemble(out), /member "7" is not inside the ensemble directory/);
    edit((j) => (j.members = ['member-1']));
    assert.throws(() => readEnsemble(out), /at least two members/);
    edit((j) => (j.format = 'something-else'));
    assert.throws(() => readEnsemble(out), /expected format ecgflow-ensemble/);
  });

  test('classifies with the mean of the members probabilities; loss, accuracy and engines follow', () => {
    const out = path.join(root, 'mean');
    writeEnsemble([dirs.a, dirs.b, dirs.c], out);
    const ensemble = loadClassifier(out);
    const members = [dirs.a, dirs.b, dirs.c].map((d) => {
      const model = loadResNet(d);
      const inference = createInference(model);
      model.dispose();
      return inference;
    });
    try {
      assert.deepEqual(ensemble.depths, [14, 14, 20]);
      assert.equal(ensemble.featureCount, 5);
      tf.tidy(() => {
        const x = tf.randomNormal([6, 17, 39, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
        const f = tf.randomNormal([6, 5], 0, 1, 'float32', 6) as tf.Tensor2D;
        const expected = tf.div(tf.addN(members.map((m) => tf.softmax(m.logits(x, f)))), 3);
        const got = tf.softmax(ensemble.inference.logits(x, f));
        const diff = tf.max(tf.abs(tf.sub(expected, got))).dataSync()[0];
        assert.ok(diff < 1e-5, `max difference ${diff}`);
        const spread = tf.max(tf.abs(tf.sub(tf.softmax(members[0].logits(x, f)), expected))).dataSync()[0];
        assert.ok(spread > 0.01, 'the members disagree, so the mean is not any one of them');
      });
      // evaluateInference on the ensemble: loss = mean of -log(mean probability of the true class).
      const count = 4;
      const images = new Float32Array(count * 17 * 39).map((_, i) => Math.sin(i));
      const features = new Float32Array(count * 5).map((_, i) => Math.cos(i));
      const labels = Int32Array.from([0, 1, 2, 0]);
      const r = evaluateInference(ensemble, images, labels, count, 3, features);
      const p = r.probabilities;
      const loss = -[0, 1, 2, 3].reduce((s, i) => s + Math.log(p[i * 5 + labels[i]]), 0) / count;
      assert.ok(Math.abs(r.loss - loss) < 1e-4, `loss ${r.loss} vs ${loss}`);
      // A one-member view of the same path equals evaluateModel.
      const single = loadResNet(dirs.a);
      const viaModel = evaluateModel(single, images, labels, count, 3, features);
      single.dispose();
      const viaInference = evaluateInference(
        { inference: members[0], inputShape: [17, 39, 1], numClasses: 5 },
        images,
        labels,
        count,
        3,
        features,
      );
      assert.deepEqual(viaInference.predictions, viaModel.predictions);
    } finally {
      ensemble.inference.dispose();
      for (const m of members) m.dispose();
    }
  });

  test('serve loads an ensemble like a model: stable version from its members, members counted', () => {
    const out = path.join(root, 'serve');
    writeEnsemble([dirs.a, dirs.c], out);
    const version = versionOfModelDir(out);
    assert.match(version, /^ensemble2-[0-9a-f]{12}$/);
    assert.equal(versionOfModelDir(out), version, 'the same members give the same version');
    const other = path.join(root, 'serve-other');
    writeEnsemble([dirs.a, dirs.b], other);
    assert.notEqual(versionOfModelDir(other), version);
    const before = tf.memory().numTensors;
    const loaded = loadServingModel(out, weightsVersionOfModelDir(out), {
      inputShape: [17, 39, 1],
      classes: ['N', 'S', 'V', 'F', 'Q'],
    });
    assert.equal(loaded.version, version);
    assert.deepEqual(loaded.depths, [14, 20]);
    assert.equal(loaded.depth, 20);
    assert.equal(loaded.featureCount, 5);
    loaded.snapshot.dispose();
    assert.equal(tf.memory().numTensors, before, 'nothing left once the ensemble is disposed');
  });
});
