/**
 * Learning-rate schedules, per epoch (no warm-up). Adaptive runs restart the cosine at every growth (seed
 * paper eq. 4): lr(e) = lrMin + (lrMax - lrMin) / 2 * (1 + cos(pi * (e - T) / (E - T))), where T is the first
 * epoch trained by the current network (0 at the start, growthEpoch + 1 after a growth), so the first epoch
 * after a growth runs at lrMax. Vanilla runs use the same cosine with T = 0 throughout.
 */
import { ConfigError } from '../errors';

export interface CosineSchedule {
  lrMax: number;
  lrMin: number;
  /** Total epochs E of the run. */
  epochs: number;
}

export function cosineLearningRate(schedule: CosineSchedule, epoch: number, restartEpoch = 0): number {
  const { lrMax, lrMin, epochs } = schedule;
  if (!(lrMax >= lrMin && lrMin >= 0))
    throw new ConfigError(`need lrMax >= lrMin >= 0, got ${lrMax}, ${lrMin}`, 'lr');
  if (!Number.isInteger(epoch) || epoch < restartEpoch || epoch >= epochs) {
    throw new ConfigError(`epoch ${epoch} outside [${restartEpoch}, ${epochs})`, 'epoch');
  }
  const span = epochs - restartEpoch;
  return lrMin + 0.5 * (lrMax - lrMin) * (1 + Math.cos((Math.PI * (epoch - restartEpoch)) / span));
}
