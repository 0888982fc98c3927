import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochTimesByDepth, fastestEpochsSeconds } from '../../../src/bench/epochTimes';

describe('epoch times by depth', () => {
  it('groups by depth in order of appearance with fastest, median and total', () => {
    const times = epochTimesByDepth([
      { depth: 20, seconds: 110 },
      { depth: 20, seconds: 105 },
      { depth: 20, seconds: 133 },
      { depth: 38, seconds: 302 },
      { depth: 38, seconds: 1475 },
      { depth: 38, seconds: 226 },
      { depth: 38, seconds: 240 },
      { depth: 74, seconds: 645 },
    ]);
    assert.deepEqual(times, [
      { depth: 20, epochs: 3, fastestSeconds: 105, medianSeconds: 110, totalSeconds: 348 },
      { depth: 38, epochs: 4, fastestSeconds: 226, medianSeconds: 271, totalSeconds: 2243 },
      { depth: 74, epochs: 1, fastestSeconds: 645, medianSeconds: 645, totalSeconds: 645 },
    ]);
  });

  it('estimates the wall clock as each depth epochs times its fastest epoch, ignoring slowed epochs', () => {
    const quiet = [100, 100, 100].map((seconds) => ({ depth: 20, seconds }));
    const slowed = [100, 400, 250].map((seconds) => ({ depth: 20, seconds }));
    assert.equal(fastestEpochsSeconds(epochTimesByDepth(quiet)), 300);
    assert.equal(fastestEpochsSeconds(epochTimesByDepth(slowed)), 300);
    assert.equal(
      fastestEpochsSeconds(
        epochTimesByDepth([...quiet, { depth: 38, seconds: 210 }, { depth: 38, seconds: 200 }]),
      ),
      700,
    );
    assert.equal(fastestEpochsSeconds([]), 0);
  });
});
