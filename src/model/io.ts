/**
 * Saving and loading a ResNet. The saved form is the contract (as in tfjs-layers): a directory with
 *   config.json    the plain ResNetConfig (depth, n, every block's h, input shape, classes, BN settings),
 *   manifest.json  one entry per variable: path name, shape, dtype, byte offset and length, plus the
 *                  byte length and SHA-256 of the weights file,
 *   weights.bin    the variables' values, float32 little-endian, in manifest order.
 * Loading checks the format version, the checksum and every name and shape, and names what is wrong.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EcgflowError, type ErrorLocation } from '../errors';
import { type ResNetConfig, validateConfig } from './config';
import { ResNet } from './resnet';

export const MODEL_FORMAT = 'ecgflow-resnet';
export const MODEL_FORMAT_VERSION = 1;
const CONFIG_FILE = 'config.json';
const MANIFEST_FILE = 'manifest.json';
const WEIGHTS_FILE = 'weights.bin';

/** A saved model directory does not follow the format (missing file, bad checksum, wrong shape, ...). */
export class ModelFormatError extends EcgflowError {
  constructor(message: string, location: ErrorLocation, cause?: unknown) {
    super('MODEL_FORMAT', message, location, false, cause);
  }
}

export interface SavedConfigFile {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  config: ResNetConfig;
  savedAt: string;
  tfjsVersion: string;
}

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  byteOffset: number;
  byteLength: number;
}

export interface WeightsManifest {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  weightsFile: string;
  byteLength: number;
  sha256: string;
  weights: WeightEntry[];
}

/** Write `model` to `dir` (created if needed; existing files of the format are replaced). */
export async function saveResNet(model: ResNet, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const named = model.namedVariables();
  const entries: WeightEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const { name, variable } of named) {
    const values = (await variable.data()) as Float32Array;
    const bytes = Buffer.alloc(values.length * 4);
    for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i], i * 4);
    entries.push({
      name,
      shape: [...variable.shape],
      dtype: 'float32',
      byteOffset: offset,
      byteLength: bytes.length,
    });
    chunks.push(bytes);
    offset += bytes.length;
  }
  const weights = Buffer.concat(chunks);
  const manifest: WeightsManifest = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    weightsFile: WEIGHTS_FILE,
    byteLength: weights.length,
    sha256: createHash('sha256').update(weights).digest('hex'),
    weights: entries,
  };
  const configFile: SavedConfigFile = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    config: model.config,
    savedAt: new Date().toISOString(),
    tfjsVersion: tf.version.tfjs,
  };
  // Config last: a directory with a config.json is complete.
  fs.rmSync(path.join(dir, CONFIG_FILE), { force: true });
  fs.writeFileSync(path.join(dir, WEIGHTS_FILE), weights);
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, CONFIG_FILE), `${JSON.stringify(configFile, null, 2)}\n`);
}

function readJsonFile<T>(file: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelFormatError(`cannot read ${path.basename(file)}`, { source: file }, err);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ModelFormatError('not valid JSON', { source: file }, err);
  }
}

/**
 * A small JSON file stamped with its own format and version (an ensemble's, a decision's), checked on
 * read: a ModelFormatError naming the file when it is unreadable, not JSON, or of another format/version.
 */
export function readVersionedJson<T>(file: string, format: string, formatVersion: number): Partial<T> {
  let saved: Partial<T> & { format?: unknown; formatVersion?: unknown };
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof saved;
  } catch (err) {
    throw new ModelFormatError(`not readable JSON: ${(err as Error).message}`, { source: file }, err);
  }
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved))
    throw new ModelFormatError(`expected a JSON object, got ${JSON.stringify(saved)}`, { source: file });
  if (saved.format !== format || saved.formatVersion !== formatVersion)
    throw new ModelFormatError(
      `expected format ${format} version ${formatVersion}, got ${String(saved.format)} version ${String(saved.formatVersion)}`,
      { source: file, field: 'format' },
    );
  return saved;
}

function checkHeader(file: string, value: { format?: unknown; formatVersion?: unknown }): void {
  if (value.format !== MODEL_FORMAT) {
    throw new ModelFormatError(`format is ${JSON.stringify(value.format)}, expected "${MODEL_FORMAT}"`, {
      source: file,
      field: 'format',
    });
  }
  if (value.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new ModelFormatError(
      `formatVersion ${JSON.stringify(value.formatVersion)} is not supported (this build reads ${MODEL_FORMAT_VERSION})`,
      {
        source: file,
        field: 'formatVersion',
      },
    );
  }
}

/** Only the configuration of a saved model (cheap: no weights are read). */
export function readSavedConfig(dir: string): ResNetConfig {
  const file = path.join(dir, CONFIG_FILE);
  const saved = readJsonFile<SavedConfigFile>(file);
  checkHeader(file, saved);
  try {
    return validateConfig(saved.config);
  } catch (err) {
    throw new ModelFormatError(
      `invalid config: ${(err as Error).message}`,
      { source: file, field: 'config' },
      err,
    );
  }
}

/** Load a model saved by `saveResNet`, verifying checksum, names and shapes. */
export function loadResNet(dir: string): ResNet {
  const config = readSavedConfig(dir);
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const manifest = readJsonFile<WeightsManifest>(manifestFile);
  checkHeader(manifestFile, manifest);
  const weightsFile = path.join(dir, manifest.weightsFile ?? WEIGHTS_FILE);
  let weights: Buffer;
  try {
    weights = fs.readFileSync(weightsFile);
  } catch (err) {
    throw new ModelFormatError('cannot read the weights file', { source: weightsFile }, err);
  }
  if (weights.length !== manifest.byteLength) {
    throw new ModelFormatError(`${weights.length} bytes, the manifest says ${manifest.byteLength}`, {
      source: weightsFile,
    });
  }
  const digest = createHash('sha256').update(weights).digest('hex');
  if (digest !== manifest.sha256) {
    throw new ModelFormatError(`SHA-256 ${digest} does not match the manifest's ${manifest.sha256}`, {
      source: weightsFile,
    });
  }
  const byName = new Map<string, WeightEntry>();
  for (const entry of manifest.weights) byName.set(entry.name, entry);

  const model = ResNet.create(config);
  try {
    const expected = model.namedVariables();
    for (const { name, variable } of expected) {
      const entry = byName.get(name);
      if (entry === undefined)
        throw new ModelFormatError('weight missing from the manifest', { source: manifestFile, field: name });
      const sameShape =
        entry.shape.length === variable.shape.length && entry.shape.every((d, i) => d === variable.shape[i]);
      if (!sameShape || entry.dtype !== 'float32' || entry.byteLength !== variable.size * 4) {
        throw new ModelFormatError(
          `shape ${JSON.stringify(entry.shape)} ${entry.dtype}, expected ${JSON.stringify(variable.shape)} float32`,
          {
            source: manifestFile,
            field: name,
          },
        );
      }
      if (entry.byteOffset < 0 || entry.byteOffset + entry.byteLength > weights.length) {
        throw new ModelFormatError(
          `bytes ${entry.byteOffset}..${entry.byteOffset + entry.byteLength} lie outside the weights file`,
          {
            source: manifestFile,
            field: name,
          },
        );
      }
      const values = new Float32Array(variable.size);
      for (let i = 0; i < values.length; i++) values[i] = weights.readFloatLE(entry.byteOffset + i * 4);
      tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')));
      byName.delete(name);
    }
    if (byName.size > 0) {
      throw new ModelFormatError(
        `weights not part of a depth-${config.depth} model: ${[...byName.keys()].join(', ')}`,
        { source: manifestFile },
      );
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
