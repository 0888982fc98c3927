/**
 * When to grow (adaptive-training spec, section 3): a pure state machine fed the mean block Lipschitz
 * bound once per epoch. It smooths over the last W raw values, takes the first smoothed value after each
 * reset as the reference, fires on smoothed/reference > rTol (threshold growth), and forces a growth when
 * waiting any longer would leave the final network fewer than `reserve` epochs (forced growth). Epochs are
 * 0-based; the forced-growth test is an exact equality, as in the reference, so the guarantee holds.
 */
import { ConfigError } from '../errors';

export interface GrowthTriggerConfig {
  /** Total epochs E. */
  epochs: number;
  /** Moving-average window W (epochs). */
  window: number;
  /** Threshold on smoothed / reference. */
  rTol: number;
  /** Epochs the final network is guaranteed to train. */
  reserve: number;
  /** Growths the run may still make (log2(nMax / nCurrent)). */
  growthsLeft: number;
}

export interface GrowthTriggerState {
  hist: number[];
  smoothed: number[];
  reference: number | undefined;
  growthsLeft: number;
}

export interface TriggerDecision {
  fire: boolean;
  kind: 'threshold' | 'forced' | undefined;
  smoothed: number | undefined;
  ratio: number | undefined;
}

export class GrowthTrigger {
  private state: GrowthTriggerState;

  constructor(
    private readonly config: GrowthTriggerConfig,
    state?: GrowthTriggerState,
  ) {
    if (!Number.isInteger(config.window) || config.window < 1)
      throw new ConfigError(`window must be >= 1, got ${config.window}`, 'window');
    if (!(config.rTol > 0)) throw new ConfigError(`rTol must be > 0, got ${config.rTol}`, 'rTol');
    if (!Number.isInteger(config.growthsLeft) || config.growthsLeft < 0) {
      throw new ConfigError(
        `growthsLeft must be a non-negative integer, got ${config.growthsLeft}`,
        'growthsLeft',
      );
    }
    this.state =
      state === undefined
        ? { hist: [], smoothed: [], reference: undefined, growthsLeft: config.growthsLeft }
        : structuredClone(state);
  }

  /** A copy of the state, for checkpoints. */
  snapshot(): GrowthTriggerState {
    return structuredClone(this.state);
  }

  get growthsLeft(): number {
    return this.state.growthsLeft;
  }

  /**
   * Record the mean Lipschitz bound measured at the end of `epoch` and decide. When it fires, the caller
   * grows the network; the trigger has already reset its history and counted the growth.
   */
  observe(epoch: number, meanLipschitz: number): TriggerDecision {
    const s = this.state;
    const { window: w, epochs, reserve, rTol } = this.config;
    s.hist.push(meanLipschitz);
    if (s.hist.length >= w) {
      const last = s.hist.slice(-w);
      s.smoothed.push(last.reduce((a, b) => a + b, 0) / w);
    }
    const smoothed = s.smoothed.length > 0 ? s.smoothed[s.smoothed.length - 1] : undefined;
    if (smoothed !== undefined && s.reference === undefined) s.reference = smoothed;
    const ratio = smoothed !== undefined && s.reference !== undefined ? smoothed / s.reference : undefined;
    const k = s.growthsLeft;
    let kind: TriggerDecision['kind'];
    if (ratio !== undefined && ratio > rTol) kind = 'threshold';
    else if (smoothed !== undefined && k > 0 && epochs - epoch === reserve + (k - 1) * w + 1) kind = 'forced';
    const fire = kind !== undefined && k > 0;
    if (fire) {
      s.hist = [];
      s.smoothed = [];
      s.reference = undefined;
      s.growthsLeft = k - 1;
    }
    return { fire, kind: fire ? kind : undefined, smoothed, ratio };
  }
}
