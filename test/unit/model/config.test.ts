import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../../src/errors';
import {
  blocksForDepth,
  resnetConfig,
  resnetParamCount,
  stageSpatialShapes,
  validateConfig,
} from '../../../src/model/config';

describe('ResNet configuration', () => {
  test('depth 6n+2 maps to n blocks per stage, anything else is refused with a hint', () => {
    assert.equal(blocksForDepth(20), 3);
    assert.equal(blocksForDepth(74), 12);
    assert.throws(
      () => blocksForDepth(21),
      (err: unknown) => err instanceof ConfigError && /try 20 or 26/.test(err.message),
    );
    assert.throws(() => blocksForDepth(2), ConfigError);
  });

  test('closed-form parameter counts of the seed paper (3-channel input, 10 classes)', () => {
    const expected: [number, number][] = [
      [14, 175_258],
      [20, 272_474],
      [26, 369_690],
      [38, 564_122],
      [50, 758_554],
      [74, 1_147_418],
    ];
    for (const [depth, count] of expected)
      assert.equal(resnetParamCount(blocksForDepth(depth), 3, 10), count, `ResNet-${depth}`);
    // The spectrogram model: 1 channel, 5 classes.
    assert.equal(resnetParamCount(12, 1, 5), 1_147_418 - 288 - 325);
  });

  test('defaults: spectrogram input 17x39x1, 5 classes, h = 1, BN decay 0.9 and epsilon 1e-5', () => {
    const c = resnetConfig({ depth: 20 });
    assert.deepEqual(c.inputShape, [17, 39, 1]);
    assert.equal(c.numClasses, 5);
    assert.deepEqual(c.stepSizes, [
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    assert.deepEqual(c.batchNorm, { decay: 0.9, epsilon: 1e-5 });
    assert.deepEqual(JSON.parse(JSON.stringify(c)), c, 'the configuration is plain JSON');
  });

  test('validation names the field that is wrong', () => {
    const c = resnetConfig({ depth: 14 });
    assert.throws(
      () => validateConfig({ ...c, stepSizes: [[1, 1], [1, 1], [1]] }),
      /stepSizes\[2\] must list 2/,
    );
    assert.throws(
      () =>
        validateConfig({
          ...c,
          stepSizes: [
            [1, 1],
            [1, -1],
            [1, 1],
          ],
        }),
      /stepSizes\[1\]\[1\]/,
    );
    assert.throws(() => validateConfig({ ...c, numClasses: 1 }), /numClasses/);
    assert.throws(() => validateConfig({ ...c, blocksPerStage: 3 }), /blocksPerStage/);
    assert.throws(() => validateConfig({ ...c, inputShape: [17, 0, 1] }), /inputShape/);
  });

  test('stage output sizes for the spectrogram: 17x39 -> 9x20 -> 5x10', () => {
    assert.deepEqual(stageSpatialShapes(17, 39), [
      [17, 39],
      [9, 20],
      [5, 10],
    ]);
  });
});
