import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GrowthTrigger } from '../../../src/trainer/growthTrigger';
import { growthMapping } from '../../../src/trainer/grow';
import { parametersPerEpoch } from '../../../src/trainer/ppe';
import { cosineLearningRate } from '../../../src/trainer/schedule';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

describe('cosine learning rate with restarts (seed paper eq. 4)', () => {
  const s = { lrMax: 0.1, lrMin: 0.001, epochs: 64 };
  it('starts at lrMax, passes the midpoint at E/2 and ends near lrMin', () => {
    close(cosineLearningRate(s, 0), 0.1);
    close(cosineLearningRate(s, 32), 0.001 + 0.5 * 0.099);
    close(cosineLearningRate(s, 63), 0.001 + 0.5 * 0.099 * (1 + Math.cos((Math.PI * 63) / 64)));
  });
  it('restarts at lrMax on the first epoch after a growth', () => {
    // growth at the end of epoch 33: epoch 34 is the first of the new network
    close(cosineLearningRate(s, 34, 34), 0.1);
    close(cosineLearningRate(s, 49, 34), 0.001 + 0.5 * 0.099 * (1 + Math.cos((Math.PI * 15) / 30)));
  });
  it('refuses epochs outside the schedule', () => {
    assert.throws(() => cosineLearningRate(s, 64), /outside/);
    assert.throws(() => cosineLearningRate(s, 10, 20), /outside/);
  });
});

describe('growth trigger', () => {
  const config = { epochs: 64, window: 10, rTol: 1.4, reserve: 20, growthsLeft: 2 };

  it('forces growths at the ends of epochs 33 and 43 for E=64, reserve 20, W=10 when the bound is flat', () => {
    const trigger = new GrowthTrigger(config);
    const fired: [number, string | undefined][] = [];
    for (let e = 0; e < 64; e++) {
      const d = trigger.observe(e, 3.0);
      if (d.fire) fired.push([e, d.kind]);
    }
    assert.deepEqual(fired, [
      [33, 'forced'],
      [43, 'forced'],
    ]);
    assert.equal(trigger.growthsLeft, 0);
  });

  it('fires on the threshold, never within W+1 epochs of a reset, and references the first smoothed value', () => {
    const trigger = new GrowthTrigger(config);
    const fired: number[] = [];
    // A bound that grows 5% per epoch: the smoothed/reference ratio passes 1.4 a few epochs after the reference.
    let x = 1;
    for (let e = 0; e < 64 && fired.length < 2; e++) {
      const d = trigger.observe(e, x);
      if (d.fire) {
        assert.equal(d.kind, 'threshold');
        assert.ok(d.ratio !== undefined && d.ratio > 1.4);
        fired.push(e);
        x = 1; // the bound drops after a growth; a stale reference would never fire again
      } else {
        x *= 1.05;
      }
    }
    assert.equal(fired.length, 2);
    assert.ok(fired[0] >= 10, `first growth at epoch ${fired[0]}: within W+1 epochs of the start`);
    assert.ok(fired[1] - fired[0] >= 11, `second growth ${fired[1] - fired[0]} epochs after the first`);
    // 1.05^k > 1.4 first at k = 7: the reference is the first smoothed value (epoch 9), so epoch 16.
    assert.equal(fired[0], 16);
  });

  it('does not grow beyond the final depth, and survives a snapshot/restore', () => {
    const trigger = new GrowthTrigger({ ...config, growthsLeft: 0 });
    for (let e = 0; e < 64; e++) assert.equal(trigger.observe(e, e + 1).fire, false);
    const t1 = new GrowthTrigger(config);
    for (let e = 0; e < 20; e++) t1.observe(e, 3);
    const t2 = new GrowthTrigger(config, t1.snapshot());
    for (let e = 20; e < 64; e++) assert.deepEqual(t2.observe(e, 3), t1.observe(e, 3));
  });
});

describe('growth mapping', () => {
  it('maps n = 3 -> 6 -> 12 and 2 -> 4 -> 8 without duplicating the first block', () => {
    assert.deepEqual(growthMapping(3), [0, 1, 1, 1, 2, 2]);
    assert.deepEqual(growthMapping(6), [0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert.deepEqual(growthMapping(2), [0, 1, 1, 1]);
    assert.deepEqual(growthMapping(4), [0, 1, 1, 1, 2, 2, 3, 3]);
    for (const n of [2, 3, 4, 6, 8, 12]) {
      const m = growthMapping(n);
      assert.equal(m.length, 2 * n);
      assert.equal(m.filter((b) => b === 0).length, 1, 'block 0 appears once');
    }
    assert.throws(() => growthMapping(1), /n >= 2/);
  });
});

describe('PPE', () => {
  it('averages the parameters trained in each epoch', () => {
    assert.equal(parametersPerEpoch([100, 100, 300, 300]), 200);
    assert.equal(parametersPerEpoch([]), 0);
  });
});
