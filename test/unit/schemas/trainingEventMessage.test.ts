import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getCodecs } from '../../../src/schemas/codec';
import { toTrainingEventMessage } from '../../../src/schemas/trainingEventMessage';
import type { TrainerEvent } from '../../../src/trainer/events';

describe('trainer events as TrainingEvent messages', () => {
  const events: TrainerEvent[] = [
    {
      kind: 'epoch',
      epoch: 3,
      trainLoss: 0.2,
      trainAccuracy: 0.9,
      validationLoss: null,
      validationAccuracy: 0.85,
      learningRate: 0.05,
      depth: 20,
      parameters: 272_154,
      seconds: 12.5,
      elapsedSeconds: 50,
      backend: 'tensorflow',
    },
    {
      kind: 'lipschitz',
      epoch: 3,
      perBlock: [1.5, 2.5],
      mean: 2,
      smoothed: null,
      ratioToReference: null,
      seconds: 0.4,
    },
    {
      kind: 'growth',
      epoch: 33,
      trigger: 'forced',
      smoothedLipschitz: 2.1,
      ratio: 1.1,
      depthBefore: 20,
      depthAfter: 38,
      parametersBefore: 1,
      parametersAfter: 2,
    },
    { kind: 'checkpoint', epoch: 3, path: '/tmp/x', modelVersion: 'adaptive-d20-e3-s1', depth: 20 },
  ];

  it('encode and decode with the schema, keeping every field and mapping the trigger enum', () => {
    const codec = getCodecs().TrainingEvent;
    const decoded = events.map((e) =>
      JSON.parse(JSON.stringify(codec.decode(codec.encode(toTrainingEventMessage('run-1', e, 7))))),
    );
    assert.deepEqual(
      decoded.map((d) => Object.keys(d.event)[0]),
      ['ecgflow.EpochSummary', 'ecgflow.LipschitzEstimate', 'ecgflow.Growth', 'ecgflow.Checkpoint'],
    );
    assert.equal(decoded[0].runId, 'run-1');
    assert.equal(decoded[0].timeMs, 7);
    assert.deepEqual(decoded[0].event['ecgflow.EpochSummary'], {
      epoch: 3,
      trainLoss: 0.2,
      trainAccuracy: 0.9,
      validationLoss: null,
      validationAccuracy: 0.85,
      learningRate: 0.05,
      depth: 20,
      parameters: 272_154,
      seconds: 12.5,
      backend: 'tensorflow',
    });
    assert.equal(decoded[2].event['ecgflow.Growth'].trigger, 'FORCED');
    assert.deepEqual(decoded[3].event['ecgflow.Checkpoint'], {
      epoch: 3,
      path: '/tmp/x',
      modelVersion: 'adaptive-d20-e3-s1',
      depth: 20,
    });
  });
});
