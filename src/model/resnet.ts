/**
 * The CIFAR-style ResNet of depth 6n+2 as plain tf.Variables (no tfjs-layers): a stem conv, three stages of
 * basic blocks (widths 16/32/64, stride 2 at the first block of stages 2 and 3 with a 1x1 projection
 * shortcut), global average pooling and a dense head. Every block owns its variables and its step size h,
 * and a stage is an ordered list of blocks, so a deeper network can be assembled from the blocks of an
 * existing one (see `cloneBlock` and `ResNet.fromParts`).
 *
 * Layout is NHWC throughout (TensorFlow's native CPU layout). Forward passes live in ./forward.ts, the
 * training step in ./train.ts, saving and loading in ./io.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors';
import type { BeatPreparation } from '../beats/preparation';
import {
  type BatchNormConfig,
  type ResNetConfig,
  preparationOfConfig,
  rrRatioMaxOfConfig,
  validateConfig,
} from './config';

export interface BatchNormState {
  gamma: tf.Variable<tf.Rank.R1>;
  beta: tf.Variable<tf.Rank.R1>;
  /** Running averages, updated by training steps, used in inference mode; not trainable. */
  movingMean: tf.Variable<tf.Rank.R1>;
  movingVariance: tf.Variable<tf.Rank.R1>;
}

/** A convolution without bias followed by batch norm. Kernels are [kh, kw, inChannels, outChannels]. */
export interface ConvBn {
  kernel: tf.Variable<tf.Rank.R4>;
  stride: 1 | 2;
  bn: BatchNormState;
}

/** Post-activation basic block: out = ReLU(shortcut(x) + h * BN2(conv2(ReLU(BN1(conv1(x)))))). */
export interface ResidualBlock {
  conv1: ConvBn;
  conv2: ConvBn;
  /** 1x1 stride-2 conv + BN at a downsampling block; identity when absent. */
  shortcut?: ConvBn;
  /** h, the block's explicit step size (the ODE time step). */
  stepSize: number;
}

export interface Stage {
  width: number;
  blocks: ResidualBlock[];
}

export interface DenseLayer {
  kernel: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

/** The classifier: an optional hidden ReLU layer (config `headHiddenUnits`), then the logits layer. */
export interface DenseHead extends DenseLayer {
  hidden?: DenseLayer;
}

export interface ResNetParts {
  inputShape: [number, number, number];
  numClasses: number;
  /** Scalar features concatenated with the pooled image features before the head. */
  featureCount: number;
  /** Cap of the RR ratios among those features (part of its input contract, like `beats`). */
  rrRatioMax: number;
  /** How the beats this network reads are prepared (part of its input contract). */
  beats: BeatPreparation;
  batchNorm: BatchNormConfig;
  stem: ConvBn;
  stages: Stage[];
  head: DenseHead;
}

/** A variable with its stable path name (the key in saved weights). */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
  /** Conv and dense kernels: the variables weight decay applies to by default. */
  isKernel: boolean;
}

/**
 * Deterministic initialisers. Conv kernels: He-normal, fan-out mode (std = sqrt(2 / (kh * kw * outChannels)),
 * as in the reference PyTorch code); dense kernel and bias: PyTorch's Linear default U(-1/sqrt(fanIn),
 * 1/sqrt(fanIn)); BN gamma 1, beta 0, running mean 0, running variance 1.
 */
export class Initializer {
  private counter = 0;
  constructor(private readonly seed: number | undefined) {}

  private nextSeed(): number | undefined {
    return this.seed === undefined ? undefined : this.seed * 1000003 + this.counter++;
  }

  convKernel(kh: number, kw: number, inChannels: number, outChannels: number): tf.Tensor4D {
    const std = Math.sqrt(2 / (kh * kw * outChannels));
    return tf.randomNormal([kh, kw, inChannels, outChannels], 0, std, 'float32', this.nextSeed());
  }

  denseKernel(fanIn: number, units: number): tf.Tensor2D {
    const bound = 1 / Math.sqrt(fanIn);
    return tf.randomUniform([fanIn, units], -bound, bound, 'float32', this.nextSeed());
  }

  denseBias(fanIn: number, units: number): tf.Tensor1D {
    const bound = 1 / Math.sqrt(fanIn);
    return tf.randomUniform([units], -bound, bound, 'float32', this.nextSeed());
  }
}

/**
 * A variable initialised from `value`, which is then released: tf.variable shares the value's data but
 * leaves the value itself alive, so without this every model built (each serve hot swap, each growth) kept
 * its initial tensors, and their memory, for ever.
 */
function variableFrom<R extends tf.Rank>(value: tf.Tensor<R>, trainable: boolean): tf.Variable<R> {
  const v = tf.variable(value, trainable);
  value.dispose();
  return v;
}

function newBatchNorm(channels: number): BatchNormState {
  return {
    gamma: variableFrom(tf.ones([channels]), true),
    beta: variableFrom(tf.zeros([channels]), true),
    movingMean: variableFrom(tf.zeros([channels]), false),
    movingVariance: variableFrom(tf.ones([channels]), false),
  };
}

function newConvBn(
  init: Initializer,
  k: number,
  inChannels: number,
  outChannels: number,
  stride: 1 | 2,
): ConvBn {
  return {
    kernel: variableFrom(init.convKernel(k, k, inChannels, outChannels), true),
    stride,
    bn: newBatchNorm(outChannels),
  };
}

/** A freshly initialised block; `stride` 2 (or a width change) adds the 1x1 projection shortcut. */
export function newBlock(
  init: Initializer,
  inChannels: number,
  outChannels: number,
  stride: 1 | 2,
  stepSize: number,
): ResidualBlock {
  const projection = stride !== 1 || inChannels !== outChannels;
  return {
    conv1: newConvBn(init, 3, inChannels, outChannels, stride),
    conv2: newConvBn(init, 3, outChannels, outChannels, 1),
    shortcut: projection ? newConvBn(init, 1, inChannels, outChannels, stride) : undefined,
    stepSize,
  };
}

/** A new variable holding a copy of `v`'s value, with the same trainability. */
export function cloneVariable<R extends tf.Rank>(v: tf.Variable<R>): tf.Variable<R> {
  return variableFrom(v.clone() as tf.Tensor<R>, v.trainable);
}

/** An independent copy of a conv + batch norm (kernel, gamma, beta and running statistics). */
export function cloneConvBn(c: ConvBn): ConvBn {
  return {
    kernel: cloneVariable(c.kernel),
    stride: c.stride,
    bn: {
      gamma: cloneVariable(c.bn.gamma),
      beta: cloneVariable(c.bn.beta),
      movingMean: cloneVariable(c.bn.movingMean),
      movingVariance: cloneVariable(c.bn.movingVariance),
    },
  };
}

/** The head's layers in order: the hidden ReLU layer when there is one, then the logits layer. */
export function headLayers(head: DenseHead): DenseLayer[] {
  return head.hidden === undefined ? [head] : [head.hidden, head];
}

/** An independent copy of the head (new variables holding the same values). */
export function cloneHead(head: DenseHead): DenseHead {
  const copy = (l: DenseLayer): DenseLayer => ({
    kernel: cloneVariable(l.kernel),
    bias: cloneVariable(l.bias),
  });
  return head.hidden === undefined ? copy(head) : { hidden: copy(head.hidden), ...copy(head) };
}

/** An independent copy of a block (new variables holding the same values: kernels, BN, running statistics). */
export function cloneBlock(block: ResidualBlock, stepSize: number = block.stepSize): ResidualBlock {
  return {
    conv1: cloneConvBn(block.conv1),
    conv2: cloneConvBn(block.conv2),
    shortcut: block.shortcut === undefined ? undefined : cloneConvBn(block.shortcut),
    stepSize,
  };
}

function convBnVariables(prefix: string, c: ConvBn): NamedVariable[] {
  return [
    { name: `${prefix}/kernel`, variable: c.kernel, trainable: true, isKernel: true },
    { name: `${prefix}/bn/gamma`, variable: c.bn.gamma, trainable: true, isKernel: false },
    { name: `${prefix}/bn/beta`, variable: c.bn.beta, trainable: true, isKernel: false },
    { name: `${prefix}/bn/moving_mean`, variable: c.bn.movingMean, trainable: false, isKernel: false },
    {
      name: `${prefix}/bn/moving_variance`,
      variable: c.bn.movingVariance,
      trainable: false,
      isKernel: false,
    },
  ];
}

function disposeConvBn(c: ConvBn): void {
  for (const v of [c.kernel, c.bn.gamma, c.bn.beta, c.bn.movingMean, c.bn.movingVariance]) v.dispose();
}

export class ResNet implements ResNetParts {
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly featureCount: number;
  readonly rrRatioMax: number;
  readonly beats: BeatPreparation;
  readonly batchNorm: BatchNormConfig;
  readonly stem: ConvBn;
  readonly stages: Stage[];
  readonly head: DenseHead;

  private constructor(parts: ResNetParts) {
    this.inputShape = [...parts.inputShape] as [number, number, number];
    this.numClasses = parts.numClasses;
    this.featureCount = parts.featureCount;
    this.rrRatioMax = parts.rrRatioMax;
    this.beats = { ...parts.beats };
    this.batchNorm = { ...parts.batchNorm };
    this.stem = parts.stem;
    this.stages = parts.stages;
    this.head = parts.head;
    validateConfig(this.config);
    this.checkShapes();
  }

  /** A freshly initialised network; `seed` makes the initial weights reproducible. */
  static create(config: ResNetConfig, options: { seed?: number } = {}): ResNet {
    validateConfig(config);
    const init = new Initializer(options.seed);
    const cIn = config.inputShape[2];
    const stem = newConvBn(init, 3, cIn, config.widths[0], 1);
    let channels = config.widths[0];
    const stages: Stage[] = config.widths.map((width, s) => {
      const blocks: ResidualBlock[] = [];
      for (let b = 0; b < config.blocksPerStage; b++) {
        const stride: 1 | 2 = s > 0 && b === 0 ? 2 : 1;
        blocks.push(newBlock(init, channels, width, stride, config.stepSizes[s][b]));
        channels = width;
      }
      return { width, blocks };
    });
    const featureCount = config.featureCount ?? 0;
    const hiddenUnits = config.headHiddenUnits ?? 0;
    const dense = (fanIn: number, units: number): DenseLayer => ({
      kernel: variableFrom(init.denseKernel(fanIn, units), true),
      bias: variableFrom(init.denseBias(fanIn, units), true),
    });
    const headIn = channels + featureCount;
    const head: DenseHead =
      hiddenUnits === 0
        ? dense(headIn, config.numClasses)
        : { hidden: dense(headIn, hiddenUnits), ...dense(hiddenUnits, config.numClasses) };
    return new ResNet({
      inputShape: config.inputShape,
      numClasses: config.numClasses,
      featureCount,
      rrRatioMax: rrRatioMaxOfConfig(config),
      beats: preparationOfConfig(config),
      batchNorm: config.batchNorm,
      stem,
      stages,
      head,
    });
  }

  /**
   * Assemble a network from existing parts (typically blocks of another network, cloned or shared). The
   * parts are owned by the new network from then on: `dispose()` releases them.
   */
  static fromParts(parts: ResNetParts): ResNet {
    return new ResNet(parts);
  }

  /** The plain configuration this network corresponds to (derived, so it always matches the blocks). */
  get config(): ResNetConfig {
    const n = this.stages[0]?.blocks.length ?? 0;
    return {
      depth: 6 * n + 2,
      blocksPerStage: n,
      inputShape: [...this.inputShape] as [number, number, number],
      numClasses: this.numClasses,
      widths: this.stages.map((s) => s.width) as [number, number, number],
      stepSizes: this.stages.map((s) => s.blocks.map((b) => b.stepSize)),
      batchNorm: { ...this.batchNorm },
      featureCount: this.featureCount,
      rrRatioMax: this.rrRatioMax,
      beats: { ...this.beats },
      headHiddenUnits: this.head.hidden?.bias.shape[0] ?? 0,
    };
  }

  get depth(): number {
    return this.config.depth;
  }

  /** Every variable with its path name, in a fixed order (the order of the saved weights). */
  namedVariables(): NamedVariable[] {
    const out: NamedVariable[] = convBnVariables('stem/conv', this.stem);
    this.stages.forEach((stage, s) =>
      stage.blocks.forEach((block, b) => {
        const p = `stage${s + 1}/block${b}`;
        out.push(
          ...convBnVariables(`${p}/conv1`, block.conv1),
          ...convBnVariables(`${p}/conv2`, block.conv2),
        );
        if (block.shortcut !== undefined) out.push(...convBnVariables(`${p}/shortcut`, block.shortcut));
      }),
    );
    const hidden = this.head.hidden;
    if (hidden !== undefined) {
      out.push({ name: 'head/hidden/kernel', variable: hidden.kernel, trainable: true, isKernel: true });
      out.push({ name: 'head/hidden/bias', variable: hidden.bias, trainable: true, isKernel: false });
    }
    out.push({ name: 'head/kernel', variable: this.head.kernel, trainable: true, isKernel: true });
    out.push({ name: 'head/bias', variable: this.head.bias, trainable: true, isKernel: false });
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return this.namedVariables()
      .filter((v) => v.trainable)
      .map((v) => v.variable);
  }

  /** Trainable parameter count (running statistics excluded); equals `resnetParamCount` for standard configs. */
  paramCount(): number {
    return this.namedVariables()
      .filter((v) => v.trainable)
      .reduce((sum, v) => sum + v.variable.size, 0);
  }

  dispose(): void {
    disposeConvBn(this.stem);
    for (const stage of this.stages) {
      for (const block of stage.blocks) {
        disposeConvBn(block.conv1);
        disposeConvBn(block.conv2);
        if (block.shortcut !== undefined) disposeConvBn(block.shortcut);
      }
    }
    for (const layer of headLayers(this.head)) {
      layer.kernel.dispose();
      layer.bias.dispose();
    }
  }

  private checkShapes(): void {
    const expectKernel = (where: string, c: ConvBn, k: number, cin: number, cout: number): void => {
      const [kh, kw, i, o] = c.kernel.shape;
      if (kh !== k || kw !== k || i !== cin || o !== cout) {
        throw new ConfigError(
          `${where}: kernel shape ${JSON.stringify(c.kernel.shape)}, expected [${k},${k},${cin},${cout}]`,
          where,
        );
      }
      for (const v of [c.bn.gamma, c.bn.beta, c.bn.movingMean, c.bn.movingVariance]) {
        if (v.shape[0] !== cout)
          throw new ConfigError(`${where}: batch-norm size ${v.shape[0]}, expected ${cout}`, where);
      }
    };
    let channels = this.inputShape[2];
    expectKernel('stem/conv', this.stem, 3, channels, this.stages[0].width);
    channels = this.stages[0].width;
    this.stages.forEach((stage, s) =>
      stage.blocks.forEach((block, b) => {
        const p = `stage${s + 1}/block${b}`;
        const stride = s > 0 && b === 0 ? 2 : 1;
        if (block.conv1.stride !== stride)
          throw new ConfigError(`${p}: stride ${block.conv1.stride}, expected ${stride}`, p);
        expectKernel(`${p}/conv1`, block.conv1, 3, channels, stage.width);
        expectKernel(`${p}/conv2`, block.conv2, 3, stage.width, stage.width);
        const needsProjection = stride !== 1 || channels !== stage.width;
        if (needsProjection !== (block.shortcut !== undefined)) {
          throw new ConfigError(
            `${p}: ${needsProjection ? 'needs' : 'must not have'} a projection shortcut`,
            p,
          );
        }
        if (block.shortcut !== undefined)
          expectKernel(`${p}/shortcut`, block.shortcut, 1, channels, stage.width);
        channels = stage.width;
      }),
    );
    const expectDense = (where: string, layer: DenseLayer, fanIn: number, units: number): void => {
      const [i, o] = layer.kernel.shape;
      if (i !== fanIn || o !== units || layer.bias.shape[0] !== units) {
        throw new ConfigError(
          `${where}: kernel ${JSON.stringify(layer.kernel.shape)} bias ${JSON.stringify(layer.bias.shape)}, expected [${fanIn},${units}] and [${units}]`,
          where,
        );
      }
    };
    let headIn = channels + this.featureCount;
    if (this.head.hidden !== undefined) {
      const units = this.head.hidden.bias.shape[0];
      expectDense('head/hidden', this.head.hidden, headIn, units);
      headIn = units;
    }
    expectDense('head', this.head, headIn, this.numClasses);
  }
}
