import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';
import { SEED_PAPER_PREPARATION, beatLogSuffix, validatePreparation } from '../../../src/beats/preparation';
import { ConfigError } from '../../../src/errors';
import { resnetConfig, validateConfig } from '../../../src/model/config';
import { loadResNet, readSavedConfig, saveResNet } from '../../../src/model/io';
import { ResNet } from '../../../src/model/resnet';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { growResNet } from '../../../src/trainer/grow';

before(async () => {
  await loadTf({ prefer: resolveBackendPreference() });
});

const centredFiltered = { form: 'centred' as const, filter: true, beatRateHz: 125 };

describe("beat preparation, part of a model's input contract", () => {
  test("kept through growth and save/load; a config without it reads as the seed paper's", async () => {
    const model = ResNet.create(
      resnetConfig({ depth: 14, inputShape: [9, 13, 1], numClasses: 3, beats: centredFiltered }),
      { seed: 1 },
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-prep-'));
    try {
      const grown = growResNet(model);
      assert.deepEqual(grown.beats, centredFiltered);
      grown.dispose();
      await saveResNet(model, dir);
      assert.deepEqual(readSavedConfig(dir).beats, centredFiltered);
      const loaded = loadResNet(dir);
      assert.deepEqual(loaded.beats, centredFiltered);
      loaded.dispose();
      // A model saved before the setting existed: no `beats` in config.json.
      const file = path.join(dir, 'config.json');
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { config: { beats?: unknown } };
      delete saved.config.beats;
      fs.writeFileSync(file, JSON.stringify(saved));
      const old = loadResNet(dir);
      assert.deepEqual(old.beats, SEED_PAPER_PREPARATION);
      old.dispose();
    } finally {
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bad values are typed errors naming the field', () => {
    const config = resnetConfig({ depth: 14 });
    assert.throws(
      () =>
        validateConfig({ ...config, beats: { form: 'diagonal', filter: false, beatRateHz: 125 } as never }),
      (e: unknown) => e instanceof ConfigError && /beats\.form/.test(e.message),
    );
    assert.throws(
      () => validatePreparation({ form: 'centred', filter: 'yes', beatRateHz: 125 }),
      /beats\.filter/,
    );
    assert.throws(() => validatePreparation({ form: 'centred', filter: true, beatRateHz: 0 }), /beatRateHz/);
    assert.throws(() => validatePreparation(null), ConfigError);
  });

  test("beat logs of different preparations get different default names; the seed paper's keeps the old one", () => {
    assert.equal(beatLogSuffix(SEED_PAPER_PREPARATION), '');
    assert.equal(beatLogSuffix(centredFiltered), '.centred-filtered');
    assert.equal(beatLogSuffix({ form: 'kachuee', filter: true, beatRateHz: 125 }), '.kachuee-filtered');
    assert.equal(beatLogSuffix({ form: 'centred', filter: false, beatRateHz: 250 }), '.centred-250hz');
  });
});
