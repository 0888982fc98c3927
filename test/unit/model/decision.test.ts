import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetConfig } from '../../../src/model/config';
import { DECISION_FILE, decisionTag, readDecision, writeDecision } from '../../../src/model/decision';
import { ModelFormatError, saveResNet } from '../../../src/model/io';
import { ResNet } from '../../../src/model/resnet';
import { PREMATURITY_RULE_DS1 } from '../../../src/scoring/prematurityRule';
import {
  classifyImages,
  loadServingModel,
  ModelMismatchError,
  versionOfModelDir,
  weightsVersionOfModelDir,
} from '../../../src/serving/modelManager';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { featureCountOf, featureNamesOf } from '../../../src/trainer/beatFeatures';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-decision-'));
const expected = { inputShape: [17, 39, 1] as const, classes: ['N', 'S', 'V', 'F', 'Q'] };

/** A saved ResNet-8 whose head always answers N, so only the rule can call S. */
async function alwaysN(name: string, featureCount: number): Promise<string> {
  const model = ResNet.create(resnetConfig({ depth: 8, featureCount }), { seed: 1 });
  tf.tidy(() => {
    for (const v of model.namedVariables()) {
      if (v.name === 'head/kernel') v.variable.assign(tf.zeros(v.variable.shape));
      if (v.name === 'head/bias') v.variable.assign(tf.tensor1d([5, 0, 0, 0, 0]));
    }
  });
  const dir = path.join(root, name);
  await saveResNet(model, dir);
  model.dispose();
  return dir;
}

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('decision.json', () => {
  test('round trip, removal, and typed errors naming the file and field', () => {
    const dir = fs.mkdtempSync(path.join(root, 'file-'));
    assert.equal(readDecision(dir), undefined, 'no file: the arg-max');
    writeDecision(dir, { prematurity: PREMATURITY_RULE_DS1 });
    assert.deepEqual(readDecision(dir), { prematurity: PREMATURITY_RULE_DS1 });
    assert.ok(!fs.existsSync(path.join(dir, `${DECISION_FILE}.partial`)));
    writeDecision(dir, undefined);
    assert.equal(readDecision(dir), undefined);

    const file = path.join(dir, DECISION_FILE);
    const refused = (body: string, pattern: RegExp) => {
      fs.writeFileSync(file, body);
      assert.throws(
        () => readDecision(dir),
        (e: Error) => e instanceof ModelFormatError && pattern.test(e.message) && e.message.includes(file),
        body,
      );
    };
    refused('{', /not readable JSON/);
    refused(JSON.stringify({ format: 'other', formatVersion: 1 }), /expected format ecgflow-decision/);
    refused(JSON.stringify({ format: 'ecgflow-decision', formatVersion: 1 }), /no "prematurity" rule/);
    refused(
      JSON.stringify({
        format: 'ecgflow-decision',
        formatVersion: 1,
        prematurity: { rrRatioBelow: 1.5, templateCorrelationAbove: 0.7 },
      }),
      /rrRatioBelow must be in \(0, 1\)/,
    );
  });

  test('serve applies the rule after the arg-max and the version says so', async () => {
    const dir = await alwaysN('with-morphology', featureCountOf('rr-morphology'));
    const plainVersion = versionOfModelDir(dir);
    writeDecision(dir, { prematurity: PREMATURITY_RULE_DS1 });
    const version = versionOfModelDir(dir);
    assert.equal(version, `${plainVersion}+prem0.85-0.70`);

    assert.equal(weightsVersionOfModelDir(dir), plainVersion);
    // An unexact bound gets all its digits: it must not share 0.82's version.
    assert.equal(
      decisionTag({ prematurity: { rrRatioBelow: 0.825, templateCorrelationAbove: 0.7 } }),
      '+prem0.825-0.70',
    );

    const before = tf.memory().numTensors;
    // The loader tags the version from the decision it read itself.
    const model = loadServingModel(dir, plainVersion, expected);
    try {
      assert.equal(model.version, version);
      assert.deepEqual(model.prematurity?.rule, PREMATURITY_RULE_DS1);
      const names = featureNamesOf('rr-morphology');
      const features = new Float32Array(3 * names.length);
      const rr = names.indexOf('preRr/localMean');
      const template = names.indexOf('1 - template correlation');
      features[0 * names.length + rr] = -0.25; // early, normal shape: S
      features[1 * names.length + rr] = -0.25; // early, another shape: N
      features[1 * names.length + template] = 0.6;
      // third beat: on time, normal shape: N
      const images = new Float32Array(3 * 17 * 39);
      const c = classifyImages(model, images, 3, features);
      assert.deepEqual([...c.predicted], [1, 0, 0]);
      assert.ok(c.probabilities[0] > 0.9, 'the probabilities stay the network’s');
    } finally {
      model.snapshot.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });

  test('a model without the features the rule reads does not serve with it', async () => {
    const dir = await alwaysN('rr-only', featureCountOf('rr'));
    writeDecision(dir, { prematurity: PREMATURITY_RULE_DS1 });
    assert.throws(
      () => loadServingModel(dir, weightsVersionOfModelDir(dir), expected),
      (e: Error) => e instanceof ModelMismatchError && /1 - template correlation/.test(e.message),
    );
  });
});
