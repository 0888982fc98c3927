/**
 * One typed configuration for a training run, with the seed paper's defaults (adaptive-training spec,
 * sections 3-5): 64 epochs, SGD lr 0.1 -> 0.001 cosine, momentum 0.9, weight decay 2e-4, batch 128,
 * r_tol 1.4, window 10, reserve 20, two growths (ResNet-20 -> 38 -> 74).
 */
import { SEED_PAPER_PREPARATION, validatePreparation, type BeatPreparation } from '../beats/preparation';
import { ConfigError } from '../errors';
import {
  SPECTROGRAM_INPUT_SHAPE,
  DEFAULT_NUM_CLASSES,
  blocksForDepth,
  validateHeadHiddenUnits,
} from '../model/config';
import { BEAT_FEATURE_SETS, needsPWaveSpan, type BeatFeatureSet } from './beatFeatures';

export type TrainingMode = 'adaptive' | 'vanilla';

export type WeightDecayOn = 'kernels' | 'all';
export const WEIGHT_DECAY_ON: readonly WeightDecayOn[] = ['kernels', 'all'];

export interface TrainingConfig {
  mode: TrainingMode;
  /** Depth trained first (adaptive); vanilla trains `finalDepth` throughout. */
  initialDepth: number;
  finalDepth: number;
  epochs: number;
  batchSize: number;
  /** Batch size for validation and test passes. */
  evalBatchSize: number;
  lrMax: number;
  lrMin: number;
  momentum: number;
  weightDecay: number;
  /**
   * What weight decay applies to: `kernels` (conv and dense kernels; BN gamma/beta and biases excluded, the
   * usual choice for batch-normalised nets and this project's default) or `all` (every trainable variable,
   * as the reference code's SGD(model.parameters()) does; BN gamma then shrinks too, which lowers the BN
   * factor of the Lipschitz bound and so moves when threshold growth fires).
   */
  weightDecayOn: WeightDecayOn;
  rTol: number;
  /** Moving-average window W of the Lipschitz trigger. */
  window: number;
  reserve: number;
  /** Power iterations per convolution per epoch (warm-started). */
  lipschitzIterations: number;
  /** Step-size factor applied at growth (0.5 = the spec's h-halving). */
  growthStepFactor: number;
  /** Initial h of every block. */
  stepSize: number;
  seed: number;
  inputShape: [number, number, number];
  numClasses: number;
  /** How beats are cut from the signal (the seed paper: Kachuee form, unfiltered, 125 Hz); saved with the model. */
  beats: BeatPreparation;
  /** Scalar features beside the spectrogram (`rr`: RR-interval context; the seed paper: none). */
  features: BeatFeatureSet;
  /** Hidden ReLU units between the pooled image and scalar features and the logits (the seed paper: 0, linear). */
  headHiddenUnits: number;
  /**
   * Fraction of training beats whose pooled image features are zeroed before the head (0: off, the seed
   * paper), so the head must also classify from the scalar features alone; needs features. Why: on the
   * training patients the image is nearly always right, so without it the head learns to overrule the
   * patient-relative features with image evidence that does not carry over to new patients.
   */
  imageDropout: number;
  /**
   * How the loss weighs classes: `none` (the seed paper), `sqrt` (inverse square root of the class's share
   * of the training split) or `balanced` (inverse share), both capped at `maxClassWeight`.
   */
  classWeighting: ClassWeighting;
  maxClassWeight: number;
  /** The weights in use, derived from the training split's class counts when the run starts (checkpointed). */
  classWeights: number[] | null;
}

export type ClassWeighting = 'none' | 'sqrt' | 'balanced';
export const CLASS_WEIGHTINGS: readonly ClassWeighting[] = ['none', 'sqrt', 'balanced'];

/**
 * Per-class loss weights from the training split's class counts. Weights are normalised so that the
 * average weight over the training examples is 1 (the loss keeps its scale), then capped: a class with a
 * handful of examples (Q in the inter-patient DS1 has 8) must not dominate a batch. Classes absent from
 * the split get the cap (they never appear in a batch anyway).
 */
export function classWeightsFor(
  weighting: ClassWeighting,
  counts: readonly number[],
  maxWeight: number,
): number[] | null {
  if (weighting === 'none') return null;
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const raw = counts.map((n) => (n === 0 ? 0 : weighting === 'balanced' ? total / n : Math.sqrt(total / n)));
  const meanOverExamples = counts.reduce((s, n, k) => s + n * raw[k], 0) / total;
  return raw.map((r) => (r === 0 ? maxWeight : Math.min(maxWeight, r / meanOverExamples)));
}

export const PAPER_TRAINING_CONFIG: TrainingConfig = {
  mode: 'adaptive',
  initialDepth: 20,
  finalDepth: 74,
  epochs: 64,
  batchSize: 128,
  evalBatchSize: 100,
  lrMax: 0.1,
  lrMin: 0.001,
  momentum: 0.9,
  weightDecay: 2e-4,
  weightDecayOn: 'kernels',
  rTol: 1.4,
  window: 10,
  reserve: 20,
  lipschitzIterations: 100,
  growthStepFactor: 0.5,
  stepSize: 1,
  seed: 1,
  inputShape: [...SPECTROGRAM_INPUT_SHAPE] as [number, number, number],
  numClasses: DEFAULT_NUM_CLASSES,
  beats: { ...SEED_PAPER_PREPARATION },
  features: 'none',
  headHiddenUnits: 0,
  imageDropout: 0,
  classWeighting: 'none',
  maxClassWeight: 10,
  classWeights: null,
};

/** The image must still be seen by most training beats, or the convolutional layers barely learn. */
export const MAX_IMAGE_DROPOUT = 0.9;

/** Growths from initial to final depth: n must double each time. */
export function growthsBetween(initialDepth: number, finalDepth: number): number {
  const n0 = blocksForDepth(initialDepth);
  const n1 = blocksForDepth(finalDepth);
  const k = Math.log2(n1 / n0);
  if (!Number.isInteger(k) || k < 0) {
    throw new ConfigError(
      `final depth ${finalDepth} (n=${n1}) is not initial depth ${initialDepth} (n=${n0}) doubled a whole number of times`,
      'depth',
    );
  }
  if (k > 0 && n0 < 2)
    throw new ConfigError(`growth needs n >= 2 blocks per stage; depth ${initialDepth} has n=${n0}`, 'depth');
  return k;
}

export function validateTrainingConfig(c: TrainingConfig): TrainingConfig {
  const growths = growthsBetween(c.initialDepth, c.finalDepth);
  const positiveInts: (keyof TrainingConfig)[] = [
    'epochs',
    'batchSize',
    'evalBatchSize',
    'window',
    'lipschitzIterations',
  ];
  for (const k of positiveInts) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${k} must be a positive integer, got ${v}`, k);
  }
  if (!Number.isInteger(c.reserve) || c.reserve < 0)
    throw new ConfigError(`reserve must be >= 0, got ${c.reserve}`, 'reserve');
  // The k-th forced growth from the end falls at E - reserve - (k-1) W - 1 and needs a smoothed value, i.e.
  // W epochs since the start or the previous growth: all of them fit only when E >= reserve + growths W.
  // Below that the last growths never come and the final depth is never trained, whatever the bound does.
  if (c.mode === 'adaptive' && growths > 0 && c.epochs < c.reserve + growths * c.window)
    throw new ConfigError(
      `${c.epochs} epochs cannot hold ${growths} forced growth(s) ${c.window} epochs apart (window) and ${c.reserve} reserved epochs after the last: need epochs >= reserve + growths x window = ${c.reserve + growths * c.window}`,
      'epochs',
    );
  if (!(c.lrMax >= c.lrMin && c.lrMin >= 0)) throw new ConfigError(`need lrMax >= lrMin >= 0`, 'lr');
  if (!(c.rTol > 0)) throw new ConfigError(`rTol must be > 0`, 'rTol');
  if (!WEIGHT_DECAY_ON.includes(c.weightDecayOn))
    throw new ConfigError(`weightDecayOn must be one of ${WEIGHT_DECAY_ON.join(', ')}`, 'weightDecayOn');
  if (!(c.growthStepFactor > 0)) throw new ConfigError('growthStepFactor must be > 0', 'growthStepFactor');
  validatePreparation(c.beats);
  if (!BEAT_FEATURE_SETS.includes(c.features))
    throw new ConfigError(`features must be one of ${BEAT_FEATURE_SETS.join(', ')}`, 'features');
  if (needsPWaveSpan(c.features) && c.beats.form !== 'centred')
    throw new ConfigError(
      `features ${c.features} compare the P wave before the R-peak, which ${c.beats.form} beats do not hold; use the centred beat form`,
      'features',
    );
  validateHeadHiddenUnits(c.headHiddenUnits);
  if (!(c.imageDropout >= 0 && c.imageDropout <= MAX_IMAGE_DROPOUT))
    throw new ConfigError(
      `imageDropout must be in [0, ${MAX_IMAGE_DROPOUT}], got ${c.imageDropout}`,
      'imageDropout',
    );
  if (c.imageDropout > 0 && c.features === 'none')
    throw new ConfigError(
      'imageDropout needs scalar features (features other than none): without them a dropped beat has no input',
      'imageDropout',
    );
  if (!CLASS_WEIGHTINGS.includes(c.classWeighting))
    throw new ConfigError(`classWeighting must be one of ${CLASS_WEIGHTINGS.join(', ')}`, 'classWeighting');
  if (!(c.maxClassWeight >= 1)) throw new ConfigError('maxClassWeight must be >= 1', 'maxClassWeight');
  if (c.classWeights !== null && c.classWeights.length !== c.numClasses)
    throw new ConfigError(`classWeights must have ${c.numClasses} entries`, 'classWeights');
  return c;
}

/** Depth pair from "20,74" or "14,50". */
export function parseDepthPair(text: string): [number, number] {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 2 || parts.some((p) => !Number.isInteger(p)))
    throw new ConfigError(`depth must be "initial,final", e.g. 20,74; got "${text}"`, 'depth');
  growthsBetween(parts[0], parts[1]);
  return [parts[0], parts[1]];
}
