/**
 * Trainer events (src/trainer/events.ts) as `TrainingEvent` messages (schemas/training-event.avsc).
 */
import type { TrainerEvent } from '../trainer/events';
import type { TrainingEventV1 } from './types';

export function toTrainingEventMessage(
  runId: string,
  event: TrainerEvent,
  timeMs = Date.now(),
): TrainingEventV1 {
  switch (event.kind) {
    case 'epoch':
      return {
        runId,
        timeMs,
        event: {
          'ecgflow.EpochSummary': {
            epoch: event.epoch,
            trainLoss: event.trainLoss,
            trainAccuracy: event.trainAccuracy,
            validationLoss: event.validationLoss,
            validationAccuracy: event.validationAccuracy,
            learningRate: event.learningRate,
            depth: event.depth,
            parameters: event.parameters,
            seconds: event.seconds,
            backend: event.backend,
          },
        },
      };
    case 'lipschitz':
      return {
        runId,
        timeMs,
        event: {
          'ecgflow.LipschitzEstimate': {
            epoch: event.epoch,
            perBlock: event.perBlock,
            mean: event.mean,
            smoothed: event.smoothed,
            ratioToReference: event.ratioToReference,
            seconds: event.seconds,
          },
        },
      };
    case 'growth':
      return {
        runId,
        timeMs,
        event: {
          'ecgflow.Growth': {
            epoch: event.epoch,
            trigger: event.trigger === 'forced' ? 'FORCED' : 'THRESHOLD',
            smoothedLipschitz: event.smoothedLipschitz,
            ratio: event.ratio,
            depthBefore: event.depthBefore,
            depthAfter: event.depthAfter,
            parametersBefore: event.parametersBefore,
            parametersAfter: event.parametersAfter,
          },
        },
      };
    case 'checkpoint':
      return {
        runId,
        timeMs,
        event: {
          'ecgflow.Checkpoint': {
            epoch: event.epoch,
            path: event.path,
            modelVersion: event.modelVersion,
            depth: event.depth,
          },
        },
      };
  }
}
