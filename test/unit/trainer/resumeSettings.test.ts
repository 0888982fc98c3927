import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { SEED_PAPER_PREPARATION } from '../../../src/beats/preparation';
import { resnetConfig } from '../../../src/model/config';
import { CheckpointError, readCheckpointConfig, resumeDifferences } from '../../../src/trainer/checkpoint';
import { PAPER_TRAINING_CONFIG, type TrainingConfig } from '../../../src/trainer/config';
import { scratchDir } from '../../helpers/scratch';

const run: TrainingConfig = { ...PAPER_TRAINING_CONFIG, inputShape: [17, 39, 1], features: 'rr-morphology' };

describe('resuming with the settings of the run', () => {
  it('finds no difference for the same settings, and names each one that differs', () => {
    assert.deepEqual(resumeDifferences({ ...run }, { ...run }), []);
    assert.deepEqual(resumeDifferences(run, { ...run, seed: 2, batchSize: 64, features: 'rr' }).sort(), [
      'batchSize 128 -> 64',
      'features "rr-morphology" -> "rr"',
      'seed 1 -> 2',
    ]);
    assert.deepEqual(resumeDifferences(run, { ...run, inputShape: [17, 40, 1] }), [
      'inputShape [17,39,1] -> [17,40,1]',
    ]);
  });

  it('leaves out derived class weights, the beat preparation and settings the checkpoint predates', () => {
    const saved: Partial<TrainingConfig> = { ...run, classWeights: [0.7, 5, 2.5, 7.6, 10] };
    delete saved.imageDropout;
    assert.deepEqual(
      resumeDifferences(saved, {
        ...run,
        classWeights: null,
        imageDropout: 0.5,
        beats: { form: 'centred', filter: true, beatRateHz: 125 },
      }),
      [],
    );
  });

  it('reads the settings from a checkpoint as its run trained with them, and refuses a file that is not one', () => {
    const dir = scratchDir('ecgflow-resume-settings-');
    // The checkpoint's model: its config says how beats were cut and how wide the head is.
    fs.mkdirSync(path.join(dir, 'model'));
    fs.writeFileSync(
      path.join(dir, 'model', 'config.json'),
      JSON.stringify({
        format: 'ecgflow-resnet',
        formatVersion: 1,
        config: resnetConfig({ depth: 8, headHiddenUnits: 16 }),
        savedAt: '2026-11-01T00:00:00Z',
        tfjsVersion: '4.22.0',
      }),
    );
    const file = path.join(dir, 'state.json');
    // Written before features, dropout, class weights and the weight-decay scope existed.
    fs.writeFileSync(
      file,
      JSON.stringify({ format: 'ecgflow-training-checkpoint', formatVersion: 1, config: { seed: 7 } }),
    );
    const effective = readCheckpointConfig(dir);
    assert.deepEqual(effective, {
      seed: 7,
      beats: { ...SEED_PAPER_PREPARATION },
      features: 'none',
      headHiddenUnits: 16,
      imageDropout: 0,
      classWeighting: 'none',
      maxClassWeight: PAPER_TRAINING_CONFIG.maxClassWeight,
      classWeights: null,
      weightDecayOn: 'kernels',
    });
    // So a resume of such a run under settings it never had is refused, not trained half one way.
    assert.deepEqual(
      resumeDifferences(effective, { ...run, seed: 7, weightDecayOn: 'all', imageDropout: 0.5 }).sort(),
      [
        'features "none" -> "rr-morphology"',
        'headHiddenUnits 16 -> 0',
        'imageDropout 0 -> 0.5',
        'weightDecayOn "kernels" -> "all"',
      ],
    );
    fs.writeFileSync(file, JSON.stringify({ format: 'other', formatVersion: 1 }));
    assert.throws(() => readCheckpointConfig(dir), CheckpointError);
    fs.writeFileSync(file, '{');
    assert.throws(
      () => readCheckpointConfig(dir),
      (e: Error) => e instanceof CheckpointError && e.message.includes(file),
    );
  });
});
