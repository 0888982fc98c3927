/**
 * The plain, serialisable description of a CIFAR-style ResNet of depth 6n+2 (docs: shared spec
 * adaptive-training.md, section 1). Together with the weights it is the saved form of a model, and it is
 * what a deeper model is described by after growth: `stepSizes` holds every block's h.
 */
import { SEED_PAPER_PREPARATION, validatePreparation, type BeatPreparation } from '../beats/preparation';
import { ConfigError } from '../errors';
import { LEGACY_RR_RATIO_MAX, RR_RATIO_MAX, validateRrRatioMax } from '../trainer/beatFeatures';

/** The pipeline's spectrogram: STFT of 187 samples, 32-point FFT, hop 4 -> 17 frequency bins x 39 frames. */
export const SPECTROGRAM_INPUT_SHAPE: readonly [number, number, number] = [17, 39, 1];
/** AAMI beat classes N, S, V, F, Q. */
export const DEFAULT_NUM_CLASSES = 5;
export const STAGE_WIDTHS: readonly [number, number, number] = [16, 32, 64];

export interface BatchNormConfig {
  /** Running-average decay (tfjs convention; PyTorch's momentum 0.1 is decay 0.9). */
  decay: number;
  epsilon: number;
}

export const DEFAULT_BATCH_NORM: BatchNormConfig = { decay: 0.9, epsilon: 1e-5 };

export interface ResNetConfig {
  /** Always 6 * blocksPerStage + 2. */
  depth: number;
  /** n: basic blocks in each of the three stages. */
  blocksPerStage: number;
  /** Height (frequency bins), width (frames), channels. */
  inputShape: [number, number, number];
  numClasses: number;
  widths: [number, number, number];
  /** h of every block, `stepSizes[stage][block]`. */
  stepSizes: number[][];
  batchNorm: BatchNormConfig;
  /**
   * Per-beat scalar features (RR intervals, src/trainer/rrFeatures.ts) concatenated with the pooled image
   * features before the dense head; 0 (or absent, as in models saved before it existed): image only.
   */
  featureCount?: number;
  /**
   * Cap of the RR ratios among those features (src/trainer/beatFeatures.ts); absent, as in models saved
   * before it existed: LEGACY_RR_RATIO_MAX. Saved because a model must read its inputs as it was trained.
   */
  rrRatioMax?: number;
  /**
   * How the beats the model reads are prepared (form, filtering, rate; src/beats/preparation.ts); absent,
   * as in models saved before it existed: the seed paper's (Kachuee form, unfiltered, 125 Hz).
   */
  beats?: BeatPreparation;
  /**
   * Units of a hidden ReLU layer between the head's inputs (pooled image features and scalar features) and
   * the class logits; 0 (or absent, as in models saved before it existed): the seed paper's linear head.
   * A linear head can only add the scalar features' evidence to the image's; a hidden layer lets them
   * interact (a beat that differs from the patient's own and also comes early).
   */
  headHiddenUnits?: number;
}

/** Largest hidden head accepted (a sanity bound: the pooled image has 64 features). */
export const MAX_HEAD_HIDDEN_UNITS = 1024;

/** A typed error unless `units` is a whole number of hidden head units in [0, MAX_HEAD_HIDDEN_UNITS]. */
export function validateHeadHiddenUnits(units: number): void {
  if (!(Number.isInteger(units) && units >= 0 && units <= MAX_HEAD_HIDDEN_UNITS)) {
    throw new ConfigError(
      `headHiddenUnits must be an integer in [0, ${MAX_HEAD_HIDDEN_UNITS}], got ${units}`,
      'headHiddenUnits',
    );
  }
}

/** The beat preparation a model configuration expects (the seed paper's when the config predates it). */
export function preparationOfConfig(c: Pick<ResNetConfig, 'beats'>): BeatPreparation {
  return c.beats === undefined ? { ...SEED_PAPER_PREPARATION } : { ...c.beats };
}

/** The RR ratio cap a model configuration's features use (the legacy one when the config predates it). */
export function rrRatioMaxOfConfig(c: Pick<ResNetConfig, 'rrRatioMax'>): number {
  return c.rrRatioMax ?? LEGACY_RR_RATIO_MAX;
}

/** n for a depth of 6n+2; throws a ConfigError naming the nearest valid depths otherwise. */
export function blocksForDepth(depth: number): number {
  const n = (depth - 2) / 6;
  if (!Number.isInteger(depth) || !Number.isInteger(n) || n < 1) {
    const lower = Math.max(8, 6 * Math.floor((depth - 2) / 6) + 2);
    throw new ConfigError(`depth ${depth} is not 6n+2 with n >= 1 (try ${lower} or ${lower + 6})`, 'depth');
  }
  return n;
}

export interface ResNetOptions {
  depth: number;
  inputShape?: readonly [number, number, number];
  numClasses?: number;
  /** h for every block (default 1). */
  stepSize?: number;
  batchNorm?: Partial<BatchNormConfig>;
  /** Scalar features beside the image (default 0). */
  featureCount?: number;
  /** Cap of the RR ratios among them (default RR_RATIO_MAX). */
  rrRatioMax?: number;
  /** Beat preparation (default: the seed paper's). */
  beats?: BeatPreparation;
  /** Hidden units in the head (default 0: linear head). */
  headHiddenUnits?: number;
}

/** A full configuration from the few choices that matter, with the project's defaults. */
export function resnetConfig(options: ResNetOptions): ResNetConfig {
  const n = blocksForDepth(options.depth);
  const h = options.stepSize ?? 1;
  return validateConfig({
    depth: options.depth,
    blocksPerStage: n,
    inputShape: [...(options.inputShape ?? SPECTROGRAM_INPUT_SHAPE)] as [number, number, number],
    numClasses: options.numClasses ?? DEFAULT_NUM_CLASSES,
    widths: [...STAGE_WIDTHS] as [number, number, number],
    stepSizes: [0, 1, 2].map(() => new Array<number>(n).fill(h)),
    batchNorm: { ...DEFAULT_BATCH_NORM, ...options.batchNorm },
    featureCount: options.featureCount ?? 0,
    rrRatioMax: options.rrRatioMax ?? RR_RATIO_MAX,
    beats: { ...(options.beats ?? SEED_PAPER_PREPARATION) },
    headHiddenUnits: options.headHiddenUnits ?? 0,
  });
}

/** Check a configuration read from disk or built by hand; returns it unchanged when it is consistent. */
export function validateConfig(c: ResNetConfig): ResNetConfig {
  const n = blocksForDepth(c.depth);
  if (c.blocksPerStage !== n)
    throw new ConfigError(`blocksPerStage ${c.blocksPerStage} != (depth-2)/6 = ${n}`, 'blocksPerStage');
  if (
    !Array.isArray(c.inputShape) ||
    c.inputShape.length !== 3 ||
    !c.inputShape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new ConfigError(
      `inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(c.inputShape)}`,
      'inputShape',
    );
  }
  if (!Number.isInteger(c.numClasses) || c.numClasses < 2)
    throw new ConfigError(`numClasses must be >= 2, got ${c.numClasses}`, 'numClasses');
  if (
    !Array.isArray(c.widths) ||
    c.widths.length !== 3 ||
    !c.widths.every((w) => Number.isInteger(w) && w > 0)
  ) {
    throw new ConfigError(
      `widths must be three positive integers, got ${JSON.stringify(c.widths)}`,
      'widths',
    );
  }
  if (!Array.isArray(c.stepSizes) || c.stepSizes.length !== 3)
    throw new ConfigError('stepSizes must have one list per stage', 'stepSizes');
  c.stepSizes.forEach((stage, s) => {
    if (!Array.isArray(stage) || stage.length !== n) {
      throw new ConfigError(
        `stepSizes[${s}] must list ${n} step sizes, got ${JSON.stringify(stage)}`,
        'stepSizes',
      );
    }
    stage.forEach((h, b) => {
      if (typeof h !== 'number' || !Number.isFinite(h) || h <= 0) {
        throw new ConfigError(
          `stepSizes[${s}][${b}] must be a positive number, got ${JSON.stringify(h)}`,
          'stepSizes',
        );
      }
    });
  });
  if (c.featureCount !== undefined && !(Number.isInteger(c.featureCount) && c.featureCount >= 0))
    throw new ConfigError(`featureCount must be an integer >= 0, got ${c.featureCount}`, 'featureCount');
  if (c.rrRatioMax !== undefined) validateRrRatioMax(c.rrRatioMax);
  if (c.beats !== undefined) validatePreparation(c.beats);
  if (c.headHiddenUnits !== undefined) validateHeadHiddenUnits(c.headHiddenUnits);
  const bn = c.batchNorm;
  if (bn === undefined || !(bn.decay >= 0 && bn.decay < 1) || !(bn.epsilon > 0)) {
    throw new ConfigError(
      `batchNorm needs 0 <= decay < 1 and epsilon > 0, got ${JSON.stringify(bn)}`,
      'batchNorm',
    );
  }
  return c;
}

/**
 * Trainable parameters of the ResNet in closed form (convs without bias, BN gamma and beta, 1x1 projection
 * shortcuts at the two downsampling blocks, dense head with bias; running statistics excluded):
 * 97,216 n - 20,288 + 144 C_in + 32 + 65 K for the standard widths 16/32/64, plus F K for F scalar
 * features beside the image (the head's extra inputs). A hidden head of H units replaces the head's
 * (65 + F) K by (65 + F) H + (H + 1) K.
 */
export function resnetParamCount(
  blocksPerStage: number,
  inChannels: number,
  numClasses: number,
  featureCount = 0,
  headHiddenUnits = 0,
): number {
  const body = 97216 * blocksPerStage - 20288 + 144 * inChannels + 32;
  const headIn = 64 + featureCount;
  const head =
    headHiddenUnits === 0
      ? (headIn + 1) * numClasses
      : (headIn + 1) * headHiddenUnits + (headHiddenUnits + 1) * numClasses;
  return body + head;
}

/** Output height and width of the three stages for an input of `height x width` ("same" padding). */
export function stageSpatialShapes(height: number, width: number): [number, number][] {
  const s1: [number, number] = [height, width];
  const s2: [number, number] = [Math.ceil(s1[0] / 2), Math.ceil(s1[1] / 2)];
  const s3: [number, number] = [Math.ceil(s2[0] / 2), Math.ceil(s2[1] / 2)];
  return [s1, s2, s3];
}
