/**
 * Checkpoints after every epoch: the model (the saved-model format of src/model/io.ts), the optimizer's
 * momentum buffers and the power iteration's warm-start vectors (both keyed by the model's stable variable
 * path names), and the trainer state (epoch, restart epoch, trigger state, Lipschitz and epoch history,
 * parameters per epoch, elapsed time) with the run configuration. A checkpoint directory is written under a
 * temporary name and renamed into place, then `LATEST` is replaced atomically, so a crash or kill at any
 * moment leaves the previous checkpoint intact: `--resume` loses at most the epoch in progress.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EcgflowError } from '../errors';
import { preparationOfConfig, type ResNetConfig } from '../model/config';
import { loadResNet, readSavedConfig, saveResNet } from '../model/io';
import { AdaptiveTrainer, type TrainerState } from './adaptiveTrainer';
import { PAPER_TRAINING_CONFIG, type TrainingConfig } from './config';

export const CHECKPOINT_FORMAT = 'ecgflow-training-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;

export class CheckpointError extends EcgflowError {
  constructor(message: string, source: string) {
    super('CHECKPOINT', message, { source });
  }
}

interface StateFile {
  format: string;
  formatVersion: number;
  modelVersion: string;
  backend: string;
  config: TrainingConfig;
  state: TrainerState;
}

interface TensorIndexEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

function writeTensors(dir: string, stem: string, entries: [string, tf.Tensor][]): void {
  const index: TensorIndexEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const data = t.dataSync() as Float32Array;
    index.push({ name, shape: t.shape, offset, length: data.length });
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += data.length;
  }
  fs.writeFileSync(path.join(dir, `${stem}.bin`), Buffer.concat(chunks));
  fs.writeFileSync(path.join(dir, `${stem}.json`), JSON.stringify(index));
}

function readTensors(dir: string, stem: string): Map<string, tf.Tensor> {
  const indexFile = path.join(dir, `${stem}.json`);
  const binFile = path.join(dir, `${stem}.bin`);
  let index: TensorIndexEntry[];
  let bin: Buffer;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as TensorIndexEntry[];
    bin = fs.readFileSync(binFile);
  } catch (err) {
    throw new CheckpointError(`not readable: ${(err as Error).message}`, indexFile);
  }
  if (!Array.isArray(index)) throw new CheckpointError('expected a list of tensors', indexFile);
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const out = new Map<string, tf.Tensor>();
  try {
    for (const e of index) {
      if (!(Number.isInteger(e.offset) && Number.isInteger(e.length) && e.offset >= 0 && e.length >= 0))
        throw new CheckpointError(`tensor ${String(e.name)} has no valid offset and length`, indexFile);
      if (e.offset + e.length > floats.length)
        throw new CheckpointError(`tensor ${e.name} runs past the end of the file`, binFile);
      try {
        out.set(e.name, tf.tensor(floats.slice(e.offset, e.offset + e.length), e.shape));
      } catch (err) {
        throw new CheckpointError(`tensor ${e.name}: ${(err as Error).message}`, indexFile);
      }
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

export interface SavedCheckpoint {
  dir: string;
  modelVersion: string;
}

/** The directory name of the checkpoint after (0-based) `epoch`. */
export function checkpointName(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

/** Save the trainer's state after a completed epoch; keeps the newest `keep` checkpoints. */
export async function saveCheckpoint(
  root: string,
  trainer: AdaptiveTrainer,
  keep = 2,
): Promise<SavedCheckpoint> {
  const state = trainer.snapshot();
  const epoch = state.nextEpoch - 1;
  const name = checkpointName(epoch);
  const checkpoints = path.join(root, 'checkpoints');
  fs.mkdirSync(checkpoints, { recursive: true });
  const finalDir = path.join(checkpoints, name);
  const tmpDir = path.join(checkpoints, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmpDir, { recursive: true, force: true });
  fs.mkdirSync(tmpDir);
  const model = trainer.model;
  const modelVersion = `${trainer.config.mode}-d${model.depth}-e${epoch}-s${trainer.config.seed}`;
  await saveResNet(model, path.join(tmpDir, 'model'));
  const velocities: [string, tf.Tensor][] = [];
  for (const v of model.namedVariables()) {
    if (!v.trainable) continue;
    const velocity = trainer.optimizer.velocityOf(v.variable);
    if (velocity !== undefined) velocities.push([v.name, velocity]);
  }
  writeTensors(tmpDir, 'optimizer', velocities);
  writeTensors(tmpDir, 'lipschitz-vectors', trainer.spectralNorm.vectorEntries());
  const stateFile: StateFile = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    modelVersion,
    backend: trainer.backend,
    config: trainer.config,
    state,
  };
  fs.writeFileSync(path.join(tmpDir, 'state.json'), JSON.stringify(stateFile, null, 1));
  fs.rmSync(finalDir, { recursive: true, force: true });
  fs.renameSync(tmpDir, finalDir);
  const latestTmp = path.join(checkpoints, `.LATEST.tmp-${process.pid}`);
  fs.writeFileSync(latestTmp, `${name}\n`);
  fs.renameSync(latestTmp, path.join(checkpoints, 'LATEST'));
  const all = fs
    .readdirSync(checkpoints)
    .filter((d) => /^epoch-\d+$/.test(d))
    .sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep)))
    fs.rmSync(path.join(checkpoints, old), { recursive: true, force: true });
  trainer.announceCheckpoint(epoch, finalDir, modelVersion);
  return { dir: finalDir, modelVersion };
}

/** The directory of the newest complete checkpoint under `root`, or undefined when there is none. */
export function latestCheckpoint(root: string): string | undefined {
  const latest = path.join(root, 'checkpoints', 'LATEST');
  if (!fs.existsSync(latest)) return undefined;
  const dir = path.join(root, 'checkpoints', fs.readFileSync(latest, 'utf8').trim());
  if (!fs.existsSync(path.join(dir, 'state.json')))
    throw new CheckpointError('LATEST names a checkpoint that is not there', dir);
  return dir;
}

/** A checkpoint's state.json, checked to be one: a CheckpointError naming the file otherwise. */
function readStateFile(dir: string): StateFile {
  const stateFile = path.join(dir, 'state.json');
  let saved: StateFile;
  try {
    saved = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as StateFile;
  } catch (err) {
    throw new CheckpointError(`not readable: ${(err as Error).message}`, stateFile);
  }
  if (saved.format !== CHECKPOINT_FORMAT || saved.formatVersion !== CHECKPOINT_FORMAT_VERSION)
    throw new CheckpointError(
      `not a ${CHECKPOINT_FORMAT} v${CHECKPOINT_FORMAT_VERSION} checkpoint`,
      stateFile,
    );
  return saved;
}

/** Epochs finished when a checkpoint was written (its trainer's next 0-based epoch). */
export function checkpointEpochsDone(dir: string): number {
  return readStateFile(dir).state.nextEpoch;
}

/**
 * A checkpoint's run settings as the run trained with them: settings added to the trainer after the
 * checkpoint was written take the values such runs had (no features, linear head, no dropout or class
 * weights, weight decay on kernels; beats and head as its model says). The resume check and the loaded
 * trainer both read this one version, so a resume cannot be checked against one and trained with another.
 */
function effectiveConfig(
  saved: Partial<TrainingConfig>,
  model: Pick<ResNetConfig, 'beats' | 'headHiddenUnits'>,
): TrainingConfig {
  const older: Pick<
    TrainingConfig,
    | 'beats'
    | 'features'
    | 'headHiddenUnits'
    | 'imageDropout'
    | 'classWeighting'
    | 'maxClassWeight'
    | 'classWeights'
    | 'weightDecayOn'
  > = {
    beats: preparationOfConfig(model),
    features: 'none',
    headHiddenUnits: model.headHiddenUnits ?? 0,
    imageDropout: 0,
    classWeighting: 'none',
    maxClassWeight: PAPER_TRAINING_CONFIG.maxClassWeight,
    classWeights: null,
    weightDecayOn: 'kernels',
  };
  return { ...older, ...saved } as TrainingConfig;
}

/** The settings of the run a checkpoint belongs to, as it trained with them (see effectiveConfig). */
export function readCheckpointConfig(dir: string): TrainingConfig {
  return effectiveConfig(
    readStateFile(dir).config as Partial<TrainingConfig>,
    readSavedConfig(path.join(dir, 'model')),
  );
}

/**
 * What a resumed run's requested settings change against the checkpoint's run, one "name saved ->
 * requested" per difference. Resuming with other settings would continue one run under another's data
 * order, batch size or schedule while reporting the first's: refused by the caller. Derived class weights
 * and the beat preparation (checked against run.json, with its own message) are left out, as are settings
 * the checkpoint predates.
 */
export function resumeDifferences(saved: Partial<TrainingConfig>, requested: TrainingConfig): string[] {
  const skipped = new Set<string>(['classWeights', 'beats']);
  return (Object.keys(requested) as (keyof TrainingConfig)[])
    .filter((k) => !skipped.has(k) && k in saved)
    .filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(requested[k]))
    .map((k) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(requested[k])}`);
}

/** Rebuild a trainer from a checkpoint directory, exactly as it was after the saved epoch. */
export function loadCheckpoint(
  dir: string,
  backend: string,
): { trainer: AdaptiveTrainer; modelVersion: string } {
  const saved = readStateFile(dir);
  const model = loadResNet(path.join(dir, 'model'));
  let trainer: AdaptiveTrainer;
  try {
    const config = effectiveConfig(saved.config as Partial<TrainingConfig>, model.config);
    trainer = new AdaptiveTrainer(config, backend, { state: saved.state, model });
  } catch (err) {
    model.dispose(); // a configuration the trainer refuses leaves no tensors behind either
    throw err;
  }
  try {
    const byPath = new Map(model.namedVariables().map((v) => [v.name, v.variable]));
    const restored = new Set<string>();
    const velocities = readTensors(dir, 'optimizer');
    try {
      for (const [name, t] of velocities) {
        const variable = byPath.get(name);
        const velocity = variable === undefined ? undefined : trainer.optimizer.velocityOf(variable);
        if (velocity === undefined)
          throw new CheckpointError(`optimizer state for unknown variable ${name}`, dir);
        velocity.assign(t);
        restored.add(name);
      }
    } finally {
      for (const [, t] of velocities) t.dispose();
    }
    // A momentum buffer left at zero would silently change the next epoch: every one must be in the file.
    const missing = model
      .namedVariables()
      .filter(
        (v) => v.trainable && trainer.optimizer.velocityOf(v.variable) !== undefined && !restored.has(v.name),
      )
      .map((v) => v.name);
    if (missing.length > 0)
      throw new CheckpointError(
        `no optimizer state for ${missing.length} variable(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
        dir,
      );
    for (const [key, t] of readTensors(dir, 'lipschitz-vectors'))
      trainer.spectralNorm.setVector(key, t as tf.Tensor4D);
  } catch (err) {
    trainer.dispose(); // the model with it: a refused checkpoint leaves no tensors behind
    throw err;
  }
  return { trainer, modelVersion: saved.modelVersion };
}
