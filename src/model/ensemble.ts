/**
 * An ensemble of independently trained models that classifies by averaging their class probabilities.
 *
 * Why: on the inter-patient protocol one training run's V sensitivity and predictivity depend on its
 * seed (V Se 87.5-95.8 %, +P 90.0-95.5 % over six seeds of the recommended configuration), while the
 * average of two or three runs' probabilities varies much less (docs/benchmarks.md, "Ensembles"). The
 * price is K times the training and K times the inference per beat.
 *
 * On disk an ensemble is a directory with `ensemble.json` and one sub-directory per member, each a saved
 * model (io.ts) copied in, so the ensemble moves as one directory:
 *   ensemble.json  {"format": "ecgflow-ensemble", "formatVersion": 1, "members": ["member-1", ...],
 *                   "protocol": "inter"}   (the members' training protocol, when all of them were known)
 * Members must read beats the same way (input shape, classes, scalar features, RR cap, beat preparation);
 * depth and head may differ.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describePreparation, samePreparation } from '../beats/preparation';
import type { Protocol } from '../protocols/split';
import type { ResNetConfig } from './config';
import type { Inference } from './forward';
import { ModelFormatError, readSavedConfig, readVersionedJson } from './io';

export const ENSEMBLE_FORMAT = 'ecgflow-ensemble';
export const ENSEMBLE_FORMAT_VERSION = 1;
export const ENSEMBLE_FILE = 'ensemble.json';

interface EnsembleFile {
  format: string;
  formatVersion: number;
  members: string[];
  /** The protocol every member was trained under; absent when unknown for one (or from older writers). */
  protocol?: Protocol;
}

export function isEnsembleDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, ENSEMBLE_FILE));
}

/**
 * The members' model directories (absolute), checked to exist and to read beats the same way, and the
 * protocol they were trained under when the file records it.
 */
export function readEnsemble(dir: string): {
  memberDirs: string[];
  configs: ResNetConfig[];
  protocol: Protocol | undefined;
} {
  const file = path.join(dir, ENSEMBLE_FILE);
  const saved = readVersionedJson<EnsembleFile>(file, ENSEMBLE_FORMAT, ENSEMBLE_FORMAT_VERSION);
  if (!Array.isArray(saved.members) || saved.members.length < 2)
    throw new ModelFormatError('an ensemble needs at least two members', { source: file, field: 'members' });
  const memberDirs = saved.members.map((m) => {
    // Members live inside the ensemble directory: a path that leaves it is refused.
    const resolved = typeof m === 'string' ? path.resolve(dir, m) : '';
    if (resolved === '' || path.relative(path.resolve(dir), resolved).startsWith('..'))
      throw new ModelFormatError(`member "${String(m)}" is not inside the ensemble directory`, {
        source: file,
        field: 'members',
      });
    return resolved;
  });
  const configs = memberDirs.map((d) => readSavedConfig(d));
  checkCompatible(memberDirs, configs);
  if (saved.protocol !== undefined && saved.protocol !== 'intra' && saved.protocol !== 'inter')
    throw new ModelFormatError(`protocol must be "intra" or "inter", got ${JSON.stringify(saved.protocol)}`, {
      source: file,
      field: 'protocol',
    });
  return { memberDirs, configs, protocol: saved.protocol };
}

/** A ModelFormatError unless every member reads beats as the first does. */
export function checkCompatible(dirs: readonly string[], configs: readonly ResNetConfig[]): void {
  const [first] = configs;
  configs.forEach((c, i) => {
    const differs: string[] = [];
    if (c.inputShape.join('x') !== first.inputShape.join('x'))
      differs.push(`input ${c.inputShape.join('x')} vs ${first.inputShape.join('x')}`);
    if (c.numClasses !== first.numClasses) differs.push(`${c.numClasses} vs ${first.numClasses} classes`);
    if ((c.featureCount ?? 0) !== (first.featureCount ?? 0))
      differs.push(`${c.featureCount ?? 0} vs ${first.featureCount ?? 0} scalar features`);
    if (c.rrRatioMax !== first.rrRatioMax)
      differs.push(`RR ratio cap ${c.rrRatioMax} vs ${first.rrRatioMax}`);
    if (c.beats !== undefined && first.beats !== undefined && !samePreparation(c.beats, first.beats))
      differs.push(`beats ${describePreparation(c.beats)} vs ${describePreparation(first.beats)}`);
    if (differs.length > 0)
      throw new ModelFormatError(
        `ensemble member ${dirs[i]} does not read beats like ${dirs[0]}: ${differs.join('; ')}`,
        { source: dirs[i] },
      );
  });
}

/**
 * Build an ensemble directory from saved models: each member's files are copied into `out/member-<i>`.
 * `protocol`: what the members were trained under, recorded for `evaluate` (undefined: not known).
 * Returns the member directories inside `out` and their configurations, as readEnsemble does.
 */
export function writeEnsemble(
  modelDirs: readonly string[],
  out: string,
  protocol?: Protocol,
): { memberDirs: string[]; configs: ResNetConfig[]; protocol: Protocol | undefined } {
  if (modelDirs.length < 2)
    throw new ModelFormatError('an ensemble needs at least two members', { source: out });
  const configs = modelDirs.map((d) => readSavedConfig(d));
  checkCompatible(modelDirs, configs);
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0)
    throw new ModelFormatError('the output directory exists and is not empty', { source: out });
  fs.mkdirSync(out, { recursive: true });
  const members = modelDirs.map((d, i) => {
    const name = `member-${i + 1}`;
    fs.mkdirSync(path.join(out, name));
    // The model's own files only (config, manifest, weights), not evaluation output beside them.
    for (const f of ['config.json', 'manifest.json', 'weights.bin'])
      fs.copyFileSync(path.join(d, f), path.join(out, name, f));
    return name;
  });
  const file: EnsembleFile = {
    format: ENSEMBLE_FORMAT,
    formatVersion: ENSEMBLE_FORMAT_VERSION,
    members,
    ...(protocol === undefined ? {} : { protocol }),
  };
  fs.writeFileSync(path.join(out, ENSEMBLE_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return { memberDirs: members.map((m) => path.join(out, m)), configs, protocol };
}

/**
 * The members' mean class probabilities, returned as their logarithm so that it stands in for logits:
 * softmax(log p) = p when p sums to 1, and arg-max is unchanged.
 */
export class EnsembleInference implements Inference {
  readonly engine: 'eager' | 'graph';
  readonly featureCount: number;

  constructor(private readonly members: readonly Inference[]) {
    if (members.length < 2) throw new RangeError('an ensemble needs at least two members');
    this.engine = members[0].engine;
    this.featureCount = members[0].featureCount;
  }

  logits(x: tf.Tensor4D, features?: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const probabilities = this.members.map((m) => tf.softmax(m.logits(x, features)));
      // The floor keeps log finite where every member gives a class exactly 0.
      return tf.log(tf.maximum(tf.div(tf.addN(probabilities), this.members.length), 1e-30)) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const m of this.members) m.dispose();
  }
}
