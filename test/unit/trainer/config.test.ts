import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../src/errors';
import {
  PAPER_TRAINING_CONFIG,
  validateTrainingConfig,
  type TrainingConfig,
} from '../../../src/trainer/config';

const paper: TrainingConfig = { ...PAPER_TRAINING_CONFIG, inputShape: [17, 39, 1] };

describe('training settings', () => {
  it('accepts the seed paper schedule and its tightest fit: epochs = reserve + growths x window', () => {
    validateTrainingConfig(paper); // 64 >= 20 + 2 x 10
    validateTrainingConfig({ ...paper, epochs: 40 });
    validateTrainingConfig({ ...paper, initialDepth: 14, finalDepth: 26, epochs: 8, window: 3, reserve: 5 });
  });

  it('refuses an adaptive schedule whose forced growths cannot all come, saying what it needs', () => {
    assert.throws(
      () => validateTrainingConfig({ ...paper, epochs: 39 }),
      (e: Error) =>
        e instanceof ConfigError &&
        /39 epochs cannot hold 2 forced growth\(s\).*need epochs >= .* = 40/.test(e.message),
    );
    // Vanilla never grows, and neither does an adaptive run with nothing to grow into.
    validateTrainingConfig({ ...paper, mode: 'vanilla', epochs: 2 });
    validateTrainingConfig({ ...paper, initialDepth: 74, finalDepth: 74, epochs: 2 });
  });
});
