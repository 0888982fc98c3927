import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
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

  it('reads the settings from a checkpoint and refuses a file that is not one', () => {
    const dir = scratchDir('ecgflow-resume-settings-');
    const file = path.join(dir, 'state.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ format: 'ecgflow-training-checkpoint', formatVersion: 1, config: { seed: 7 } }),
    );
    assert.deepEqual(readCheckpointConfig(dir), { seed: 7 });
    fs.writeFileSync(file, JSON.stringify({ format: 'other', formatVersion: 1 }));
    assert.throws(() => readCheckpointConfig(dir), CheckpointError);
    fs.writeFileSync(file, '{');
    assert.throws(
      () => readCheckpointConfig(dir),
      (e: Error) => e instanceof CheckpointError && e.message.includes(file),
    );
  });
});
