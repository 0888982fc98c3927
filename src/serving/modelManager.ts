/**
 * The live classifier's model and its hot swap. The serving loop only ever touches `current`, a loaded,
 * BN-folded inference snapshot with its version. A new model (a trainer checkpoint) is loaded *off the hot
 * path*: `requestLoad` returns at once and the load (files read and verified, weights built, the snapshot
 * folded and warmed up with one inference) runs on a later turn of the event loop, between consumed
 * batches; the loaded model waits in `pending` until the loop calls `swapIfReady()` between two
 * micro-batches, so every micro-batch is classified by exactly one model and no beat is classified twice.
 * A model that fails to load (missing files, bad checksum, wrong input shape or classes) is reported
 * through `onLoadFailed` and the last good model keeps serving. Requests that arrive while a load runs
 * collapse into the newest one (a serve that falls behind the trainer skips to the latest checkpoint).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describePreparation, samePreparation, type BeatPreparation } from '../beats/preparation';
import { EcgflowError } from '../errors';
import type { Inference } from '../model/forward';
import { loadClassifier } from '../model/classifier';
import { decisionTag, readDecision } from '../model/decision';
import { isEnsembleDir, readEnsemble } from '../model/ensemble';
import { ModelFormatError } from '../model/io';
import { featureNamesOf, featureSetForCount, type BeatFeatureSet } from '../trainer/beatFeatures';
import {
  applyPrematurityRule,
  bindPrematurityRule,
  type BoundPrematurityRule,
} from '../scoring/prematurityRule';
import { featureTensor } from '../trainer/evaluate';

export interface LoadedModel {
  /** The weights' version plus the decision's tag: what predictions carry. */
  version: string;
  /** The weights' version alone (a checkpoint's, or weightsVersionOfModelDir): what loads are asked by. */
  weightsVersion: string;
  /** Directory the weights came from. */
  dir: string;
  /** Depth (of the deepest member, for an ensemble). */
  depth: number;
  /** Depth of each model averaged (one entry unless an ensemble: model/ensemble.ts). */
  depths: number[];
  parameters: number;
  classes: readonly string[];
  inputShape: readonly [number, number, number];
  /** Scalar features the model takes beside the image (`none` for image-only models). */
  featureSet: BeatFeatureSet;
  featureCount: number;
  /** Cap of the RR ratios among those features (the model's own). */
  rrRatioMax: number;
  /** How the beats it reads must be cut (its training beats'). */
  beats: BeatPreparation;
  /** The frozen model that classifies (graph or eager engine: model/inference.ts). */
  snapshot: Inference;
  /** The model's prematurity rule after the arg-max (model/decision.ts), with where its inputs are. */
  prematurity: BoundPrematurityRule | undefined;
  loadedAtMs: number;
}

export interface Classification {
  /** count x classes, row-major. */
  probabilities: Float32Array;
  /** Class index per beat: the arg-max, then the model's prematurity rule if it has one. */
  predicted: Int32Array;
}

/** A model that cannot serve here (wrong input shape or number of classes). */
export class ModelMismatchError extends EcgflowError {
  constructor(message: string, dir: string) {
    super('MODEL_MISMATCH', message, { source: dir });
  }
}

/**
 * The model directory inside `dir`: `dir/model` when it holds a saved model (a `train --out` directory
 * or a trainer checkpoint), else `dir` itself.
 */
export function resolveModelDir(dir: string): string {
  const resolved = path.resolve(dir);
  const nested = path.join(resolved, 'model');
  return fs.existsSync(path.join(nested, 'config.json')) ? nested : resolved;
}

/**
 * A stable version for a model directory that does not come with one: the checkpoint's own version when
 * `dir` is a checkpoint (state.json), otherwise depth plus the first 12 hex digits of the weights' SHA-256
 * (from the manifest), so the same weights always get the same version.
 */
export function versionOfModelDir(dir: string): string {
  // A decision rule changes what the model answers, so it is part of the version.
  return weightsVersionOfModelDir(dir) + decisionTag(readDecision(resolveModelDir(dir)));
}

/**
 * The version of the weights alone (versionOfModelDir without the decision tag): what loadServingModel
 * takes, adding the tag of the decision it loads itself, so the version always names the rule applied.
 */
export function weightsVersionOfModelDir(dir: string): string {
  const root = path.resolve(dir);
  for (const candidate of [path.join(root, 'state.json'), path.join(path.dirname(root), 'state.json')]) {
    if (fs.existsSync(candidate)) {
      try {
        const v = (JSON.parse(fs.readFileSync(candidate, 'utf8')) as { modelVersion?: unknown }).modelVersion;
        if (typeof v === 'string' && v !== '') return v;
      } catch {
        // fall through to the content hash
      }
    }
  }
  const modelDir = resolveModelDir(root);
  if (isEnsembleDir(modelDir)) {
    // An ensemble: its members' versions, hashed together, so the same members give the same version.
    const members = readEnsemble(modelDir).memberDirs.map((d) => versionOfModelDir(d));
    return `ensemble${members.length}-${createHash('sha256').update(members.join(',')).digest('hex').slice(0, 12)}`;
  }
  const manifestFile = path.join(modelDir, 'manifest.json');
  const configFile = path.join(modelDir, 'config.json');
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { sha256?: string };
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { config?: { depth?: number } };
    const sha = manifest.sha256 ?? createHash('sha256').update(fs.readFileSync(manifestFile)).digest('hex');
    return `d${config.config?.depth ?? '?'}-${sha.slice(0, 12)}`;
  } catch (err) {
    throw new ModelFormatError(
      'cannot derive a model version (no readable manifest.json)',
      { source: modelDir },
      err,
    );
  }
}

/** What a model must match to serve here; `beats` once the serve chain is built (it cannot change). */
export interface ServingExpectation {
  inputShape: readonly [number, number, number];
  classes: readonly string[];
  beats?: BeatPreparation;
}

/** Load, check and warm up a model: the expensive part of a swap. */
/**
 * Load a model for serving, checked against what the serve chain feeds it. `weightsVersion`: the version of
 * its weights (weightsVersionOfModelDir, or a checkpoint's); the loaded decision's tag is added here, from
 * the same read of decision.json that gives the rule.
 */
export function loadServingModel(
  dir: string,
  weightsVersion: string,
  expected: ServingExpectation,
): LoadedModel {
  const modelDir = resolveModelDir(dir);
  const model = loadClassifier(modelDir);
  try {
    const [h, w, c] = model.inputShape;
    const [eh, ew, ec] = expected.inputShape;
    if (h !== eh || w !== ew || c !== ec)
      throw new ModelMismatchError(
        `model input is ${h}x${w}x${c}, the serving spectrograms are ${eh}x${ew}x${ec}`,
        modelDir,
      );
    if (model.numClasses !== expected.classes.length)
      throw new ModelMismatchError(
        `model has ${model.numClasses} classes, serving expects ${expected.classes.length} (${expected.classes.join(', ')})`,
        modelDir,
      );
    // The serve chain's segmenter and filter are stateful per patient and built for one preparation: a model
    // trained on beats cut another way would be fed beats it never saw, so it does not serve here.
    if (expected.beats !== undefined && !samePreparation(model.beats, expected.beats))
      throw new ModelMismatchError(
        `model was trained on beats cut ${describePreparation(model.beats)}; this serve cuts them ${describePreparation(expected.beats)} (restart serve with the new model to change)`,
        modelDir,
      );
    let featureSet: BeatFeatureSet;
    try {
      featureSet = featureSetForCount(model.featureCount);
    } catch (err) {
      throw new ModelMismatchError((err as Error).message, modelDir);
    }
    let prematurity: LoadedModel['prematurity'];
    if (model.decision !== undefined) {
      try {
        prematurity = bindPrematurityRule(
          model.decision.prematurity,
          featureNamesOf(featureSet),
          expected.classes,
        );
      } catch (err) {
        throw new ModelMismatchError((err as Error).message, modelDir);
      }
    }
    const snapshot = model.inference;
    // Warm-up: the first inference of a new graph pays for kernel selection; pay it here, not on a beat.
    tf.tidy(() => {
      const f = model.featureCount > 0 ? (tf.zeros([1, model.featureCount]) as tf.Tensor2D) : undefined;
      snapshot.logits(tf.zeros([1, h, w, c]) as tf.Tensor4D, f).dataSync();
    });
    return {
      version: weightsVersion + decisionTag(model.decision),
      weightsVersion,
      dir: modelDir,
      depth: Math.max(...model.depths),
      depths: model.depths,
      parameters: model.parameters,
      classes: expected.classes,
      inputShape: [h, w, c],
      featureSet,
      featureCount: model.featureCount,
      rrRatioMax: model.rrRatioMax,
      beats: { ...model.beats },
      snapshot,
      prematurity,
      loadedAtMs: Date.now(),
    };
  } catch (err) {
    model.inference.dispose();
    throw err;
  }
}

/**
 * Classify `count` images (row-major [count, h, w, c]) with one model: probabilities and arg-max.
 * `features` (row-major [count, F]) is required when the model takes F > 0 scalar features.
 */
export function classifyImages(
  model: LoadedModel,
  images: Float32Array,
  count: number,
  features?: Float32Array,
): Classification {
  const [h, w, c] = model.inputShape;
  const k = model.classes.length;
  return tf.tidy(() => {
    const x = tf.tensor4d(images.subarray(0, count * h * w * c), [count, h, w, c]);
    const logits = model.snapshot.logits(x, featureTensor(features, count, model.featureCount));
    const probabilities = tf.softmax(logits).dataSync() as Float32Array;
    const predicted = Int32Array.from(tf.argMax(logits, 1).dataSync() as Int32Array);
    if (probabilities.length !== count * k)
      throw new RangeError(`expected ${count * k} probabilities, got ${probabilities.length}`);
    if (model.prematurity !== undefined && features !== undefined)
      applyPrematurityRule(model.prematurity.rule, model.prematurity.inputs, predicted, features, count);
    return { probabilities: Float32Array.from(probabilities), predicted };
  });
}

export interface ModelManagerEvents {
  onLoaded?: (model: LoadedModel, seconds: number) => void;
  onLoadFailed?: (dir: string, version: string, err: unknown) => void;
  onSwapped?: (from: LoadedModel, to: LoadedModel) => void;
}

export class ModelManager {
  private currentModel: LoadedModel;
  private pendingModel: LoadedModel | undefined;
  private requested: { dir: string; version: string } | undefined;
  private loading: Promise<void> | undefined;
  private closed = false;
  /** Versions that failed to load (not retried for the same request). */
  readonly failures: { dir: string; version: string; reason: string }[] = [];
  swaps = 0;

  private readonly expected: ServingExpectation;

  /** Later models must match `expected`, and cut their beats as `initial` does (the serve chain's). */
  constructor(
    initial: LoadedModel,
    expected: ServingExpectation,
    private readonly events: ModelManagerEvents = {},
    /** How a load is deferred off the current turn (tests pass a synchronous one). */
    private readonly defer: (fn: () => void) => void = (fn) => setImmediate(fn),
  ) {
    this.currentModel = initial;
    this.expected = { ...expected, beats: expected.beats ?? initial.beats };
  }

  get current(): LoadedModel {
    return this.currentModel;
  }

  get pending(): LoadedModel | undefined {
    return this.pendingModel;
  }

  /**
   * Ask for `dir` to be loaded in the background; it becomes current at the next `swapIfReady()`.
   * `version`: its weights' version (a checkpoint event's); the same weights as the current model's are
   * not loaded again.
   */
  requestLoad(dir: string, version: string): void {
    if (this.closed) return;
    if (version === this.currentModel.weightsVersion && this.pendingModel === undefined) return;
    this.requested = { dir, version };
    this.loading ??= this.loadLoop().finally(() => {
      this.loading = undefined;
    });
  }

  /** Resolves once no load is running or requested (tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.loading !== undefined) await this.loading;
  }

  private async loadLoop(): Promise<void> {
    while (this.requested !== undefined && !this.closed) {
      const { dir, version } = this.requested;
      this.requested = undefined;
      await new Promise<void>((resolve) => this.defer(resolve));
      if (this.closed) return;
      const startMs = performance.now();
      try {
        const loaded = loadServingModel(dir, version, this.expected);
        if (this.closed) {
          loaded.snapshot.dispose();
          return;
        }
        this.pendingModel?.snapshot.dispose();
        this.pendingModel = loaded;
        this.events.onLoaded?.(loaded, (performance.now() - startMs) / 1000);
      } catch (err) {
        this.failures.push({ dir, version, reason: err instanceof Error ? err.message : String(err) });
        this.events.onLoadFailed?.(dir, version, err);
      }
    }
  }

  /** Between micro-batches: make a loaded model current. Returns true when the model changed. */
  swapIfReady(): boolean {
    const next = this.pendingModel;
    if (next === undefined) return false;
    this.pendingModel = undefined;
    const previous = this.currentModel;
    this.currentModel = next;
    this.swaps++;
    previous.snapshot.dispose();
    this.events.onSwapped?.(previous, next);
    return true;
  }

  dispose(): void {
    this.closed = true;
    this.pendingModel?.snapshot.dispose();
    this.pendingModel = undefined;
    this.currentModel.snapshot.dispose();
  }
}
