import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { resnetParamCount } from '../../../src/model/config';
import { loadTf, resolveBackendPreference } from '../../../src/tf/backend';
import { AdaptiveTrainer, type ImageBatch } from '../../../src/trainer/adaptiveTrainer';
import {
  CheckpointError,
  latestCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from '../../../src/trainer/checkpoint';
import { PAPER_TRAINING_CONFIG, type TrainingConfig } from '../../../src/trainer/config';
import type { TrainerEvent } from '../../../src/trainer/events';
import { scratchDir } from '../../helpers/scratch';

let backend = 'unknown';
before(async () => {
  backend = (await loadTf({ prefer: resolveBackendPreference() })).backend;
});

const SHAPE: [number, number, number] = [9, 13, 1];

/** Three classes: which third of the rows is bright, plus deterministic noise. */
function toyBatches(count: number, batchSize: number, seed: number): ImageBatch[] {
  let state = seed;
  const rand = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5;
  return Array.from({ length: count }, () => {
    const images = new Float32Array(batchSize * 9 * 13);
    const labels = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      labels[i] = Math.floor((rand() + 0.5) * 3) % 3;
      for (let r = 0; r < 9; r++)
        for (let c = 0; c < 13; c++)
          images[i * 117 + r * 13 + c] = (Math.floor(r / 3) === labels[i] ? 1 : 0) + 0.3 * rand();
    }
    return { images, labels, count: batchSize };
  });
}

/** Events with their timings zeroed: what a resumed run must reproduce exactly. */
const untimed = (events: TrainerEvent[]) =>
  events.map((e) =>
    e.kind === 'epoch'
      ? { ...e, seconds: 0, elapsedSeconds: 0 }
      : e.kind === 'lipschitz'
        ? { ...e, seconds: 0 }
        : e,
  );

const config = (over: Partial<TrainingConfig>): TrainingConfig => ({
  ...PAPER_TRAINING_CONFIG,
  initialDepth: 14,
  finalDepth: 26,
  epochs: 6,
  window: 2,
  reserve: 2,
  lipschitzIterations: 5,
  batchSize: 16,
  evalBatchSize: 32,
  inputShape: SHAPE,
  numClasses: 3,
  seed: 7,
  ...over,
});

function runEpoch(trainer: AdaptiveTrainer, batches: ImageBatch[]): TrainerEvent[] {
  trainer.beginEpoch();
  for (const b of batches) trainer.trainBatch(b);
  const all = concat(batches);
  return trainer.endEpoch(trainer.evaluate(all.images, all.labels, all.count));
}

function concat(batches: ImageBatch[]): ImageBatch {
  const count = batches.reduce((a, b) => a + b.count, 0);
  const images = new Float32Array(count * 117);
  const labels = new Int32Array(count);
  let at = 0;
  for (const b of batches) {
    images.set(b.images, at * 117);
    labels.set(b.labels, at);
    at += b.count;
  }
  return { images, labels, count };
}

describe('AdaptiveTrainer', () => {
  it('forces the growth the reserve requires, restarts the cosine, and reports PPE', () => {
    // rTol out of reach: only the reserve can force the growth.
    const trainer = new AdaptiveTrainer(config({ rTol: 1e9 }), backend);
    const data = toyBatches(4, 16, 1);
    const events: TrainerEvent[] = [];
    trainer.events$.subscribe((e) => events.push(e));
    const lrs: number[] = [];
    while (!trainer.finished) {
      lrs.push(trainer.beginEpoch().learningRate);
      for (const b of data) trainer.trainBatch(b);
      trainer.endEpoch();
    }
    // E=6, reserve 2, W=2, one growth left: forced when E - e = 2 + 0 + 1, i.e. at the end of epoch 3.
    const growths = events.filter((e) => e.kind === 'growth');
    assert.equal(growths.length, 1);
    assert.deepEqual(
      [growths[0].epoch, growths[0].trigger, growths[0].depthBefore, growths[0].depthAfter],
      [3, 'forced', 14, 26],
    );
    assert.equal(trainer.model.depth, 26);
    assert.equal(lrs[4], 0.1, 'first epoch after the growth runs at lrMax');
    assert.ok(lrs[3] < lrs[2] && lrs[2] < lrs[0]);
    const p14 = resnetParamCount(2, 1, 3);
    const p26 = resnetParamCount(4, 1, 3);
    assert.ok(Math.abs(trainer.ppe - (4 * p14 + 2 * p26) / 6) < 1e-9);
    const epochs = events.filter((e) => e.kind === 'epoch');
    assert.equal(epochs.length, 6);
    assert.equal(events.filter((e) => e.kind === 'lipschitz').length, 6);
    assert.ok(
      epochs.every((e) => e.kind === 'epoch' && e.backend === backend && Number.isFinite(e.trainLoss)),
    );
    trainer.dispose();
  });

  it('learns the toy problem and leaks no tensors across epochs', () => {
    const trainer = new AdaptiveTrainer(config({ mode: 'vanilla', epochs: 5 }), backend);
    const data = toyBatches(6, 16, 2);
    runEpoch(trainer, data);
    const tensors = tf.memory().numTensors;
    let last: TrainerEvent[] = [];
    for (let e = 1; e < 5; e++) {
      last = runEpoch(trainer, data);
      assert.equal(tf.memory().numTensors, tensors, `epoch ${e}`);
    }
    const epoch = last.find((e) => e.kind === 'epoch');
    assert.ok(
      epoch?.kind === 'epoch' && (epoch.validationAccuracy ?? 0) > 0.9,
      `accuracy ${epoch?.kind === 'epoch' ? epoch.validationAccuracy : '?'}`,
    );
    assert.equal(trainer.model.depth, 26, 'vanilla trains the final depth');
    trainer.dispose();
  });

  it('resumes from a checkpoint into exactly the same next-epoch state', async () => {
    const dir = scratchDir('ecgflow-ckpt-');
    const data = toyBatches(3, 16, 3);
    const original = new AdaptiveTrainer(config({}), backend);
    for (let e = 0; e < 4; e++) runEpoch(original, data); // includes the growth at epoch 3
    await saveCheckpoint(dir, original);
    const next = runEpoch(original, data);

    const found = latestCheckpoint(dir);
    assert.ok(found !== undefined && found.endsWith('epoch-0003'));
    const { trainer: resumed } = loadCheckpoint(found, backend);
    assert.equal(resumed.nextEpoch, 4);
    assert.equal(resumed.model.depth, 26);
    const again = runEpoch(resumed, data);
    // Everything but the timings must be identical.
    assert.deepEqual(
      untimed(again),
      untimed(next),
      'same losses, accuracies, learning rate, Lipschitz and trigger state',
    );
    const w1 = original.model.namedVariables().map((v) => v.variable.dataSync());
    const w2 = resumed.model.namedVariables().map((v) => v.variable.dataSync());
    assert.deepEqual(w2, w1, 'same weights after the resumed epoch');
    original.dispose();
    resumed.dispose();
  });

  it('resumes mid-phase with momentum, warm power-iteration vectors and trigger history restored', async () => {
    // Saved after epoch 1, the growth (epoch 3) still ahead: the momentum buffers are non-zero, the
    // power-iteration vectors are warm and the trigger holds history, so all three must survive the file.
    const dir = scratchDir('ecgflow-ckpt-mid-');
    const data = toyBatches(3, 16, 5);
    const original = new AdaptiveTrainer(config({}), backend);
    for (let e = 0; e < 2; e++) runEpoch(original, data);
    await saveCheckpoint(dir, original);
    const next = [2, 3, 4].flatMap(() => runEpoch(original, data));

    const found = latestCheckpoint(dir);
    assert.ok(found !== undefined && found.endsWith('epoch-0001'));
    const { trainer: resumed } = loadCheckpoint(found, backend);
    const again = [2, 3, 4].flatMap(() => runEpoch(resumed, data));
    assert.ok(
      again.some((e) => e.kind === 'growth'),
      'the growth happens after the resume',
    );
    assert.deepEqual(untimed(again), untimed(next), 'same losses, Lipschitz values, growth and schedule');
    assert.deepEqual(
      resumed.model.namedVariables().map((v) => v.variable.dataSync()),
      original.model.namedVariables().map((v) => v.variable.dataSync()),
      'same weights three epochs later',
    );
    original.dispose();
    resumed.dispose();
  });

  it('decays BN gamma and beta only with weightDecayOn all, kernels in both', () => {
    const data = toyBatches(2, 16, 9);
    const after = (over: Partial<TrainingConfig>) => {
      const trainer = new AdaptiveTrainer(config({ mode: 'vanilla', epochs: 1, ...over }), backend);
      runEpoch(trainer, data);
      const values = new Map(
        trainer.model.namedVariables().map((v) => [v.name, Array.from(v.variable.dataSync())]),
      );
      trainer.dispose();
      return values;
    };
    const kernels = after({ weightDecay: 0.05, weightDecayOn: 'kernels' });
    const all = after({ weightDecay: 0.05, weightDecayOn: 'all' });
    const none = after({ weightDecay: 0, weightDecayOn: 'all' });
    const gamma = [...kernels.keys()].find((k) => k.endsWith('gamma')) as string;
    assert.ok(gamma !== undefined);
    assert.notDeepEqual(all.get(gamma), kernels.get(gamma), 'all: gamma decayed');
    assert.deepEqual(
      none.get(gamma),
      after({ weightDecay: 0, weightDecayOn: 'kernels' }).get(gamma),
      'without decay the scope changes nothing',
    );
    assert.throws(
      () => new AdaptiveTrainer(config({ weightDecayOn: 'some' as never }), backend),
      /weightDecayOn must be one of kernels, all/,
    );
  });

  it('refuses a checkpoint missing a momentum buffer, naming it, and leaves no tensors behind', async () => {
    const dir = scratchDir('ecgflow-ckpt-bad-');
    const trainer = new AdaptiveTrainer(config({}), backend);
    runEpoch(trainer, toyBatches(2, 16, 11));
    const { dir: saved } = await saveCheckpoint(dir, trainer);
    trainer.dispose();
    const indexFile = path.join(saved, 'optimizer.json');
    const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { name: string }[];
    const dropped = index[3].name;
    fs.writeFileSync(indexFile, JSON.stringify(index.filter((e) => e.name !== dropped)));
    const before = tf.memory().numTensors;
    assert.throws(
      () => loadCheckpoint(saved, backend),
      (e: Error) =>
        e instanceof CheckpointError &&
        e.message.includes(`no optimizer state for 1 variable(s): ${dropped}`),
    );
    assert.equal(tf.memory().numTensors, before, 'nothing left by the refused checkpoint');

    // A torn index or a shape that does not fit its values: a CheckpointError naming the file, no leak.
    const entries = index.map((e) => ({ ...e }));
    (entries[2] as { shape?: number[] }).shape = [7, 7, 7];
    fs.writeFileSync(indexFile, JSON.stringify(entries));
    assert.throws(
      () => loadCheckpoint(saved, backend),
      (e: Error) =>
        e instanceof CheckpointError && e.message.includes(indexFile) && e.message.includes(index[2].name),
    );
    fs.writeFileSync(indexFile, '[{"name": "stem');
    assert.throws(
      () => loadCheckpoint(saved, backend),
      (e: Error) =>
        e instanceof CheckpointError && e.message.includes(indexFile) && /not readable/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before, 'nothing left by the torn checkpoints either');

    // A checkpoint whose settings the trainer refuses leaves no tensors behind.
    fs.writeFileSync(indexFile, JSON.stringify(index));
    const stateFile = path.join(saved, 'state.json');
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { config: Record<string, unknown> };
    fs.writeFileSync(
      stateFile,
      JSON.stringify({ ...state, config: { ...state.config, weightDecayOn: 'some' } }),
    );
    assert.throws(() => loadCheckpoint(saved, backend), /weightDecayOn must be one of kernels, all/);
    assert.equal(tf.memory().numTensors, before, 'nor one the trainer refuses');
  });
});
