/**
 * Growth by cloning from the nearest time point (adaptive-training spec, section 4): every stage
 * [B0, B1, ..., B(n-1)] becomes [B0, B1, B1, B1, B2, B2, ..., B(n-1), B(n-1)] — the first block of a stage
 * (the downsampling block in stages 2 and 3) is never duplicated, its extra slot goes to a third copy of
 * B1, every other block is copied twice — and every block's step size h is halved, so the deeper network
 * integrates the same ODE with half the time step. Stem, projection shortcuts and head are carried over.
 */
import { ConfigError } from '../errors';
import { ResNet, cloneBlock, cloneConvBn, cloneHead, type ResidualBlock, type Stage } from '../model/resnet';

/** Source block index for each slot of a grown stage of n blocks: the mapping alone, for tests and docs. */
export function growthMapping(n: number): number[] {
  if (!Number.isInteger(n) || n < 2)
    throw new ConfigError(`growth needs n >= 2 blocks per stage, got ${n}`, 'depth');
  const out = [0, 1, 1, 1];
  for (let b = 2; b < n; b++) out.push(b, b);
  return out;
}

/**
 * A new network of twice the blocks per stage, built from independent copies of `model`'s variables;
 * `model` is left untouched (dispose it when done). `hFactor` is 0.5 for the spec's h-halving.
 */
export function growResNet(model: ResNet, hFactor = 0.5): ResNet {
  const stages: Stage[] = model.stages.map((stage) => {
    const blocks: ResidualBlock[] = growthMapping(stage.blocks.length).map((b) =>
      cloneBlock(stage.blocks[b], stage.blocks[b].stepSize * hFactor),
    );
    return { width: stage.width, blocks };
  });
  return ResNet.fromParts({
    inputShape: model.inputShape,
    numClasses: model.numClasses,
    featureCount: model.featureCount,
    rrRatioMax: model.rrRatioMax,
    beats: model.beats,
    batchNorm: model.batchNorm,
    stem: cloneConvBn(model.stem),
    stages,
    head: cloneHead(model.head),
  });
}
