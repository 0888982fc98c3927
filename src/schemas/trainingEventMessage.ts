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
    case 'epoch': {
      const { kind: _kind, elapsedSeconds: _elapsed, ...summary } = event;
      return { runId, timeMs, event: { 'ecgflow.EpochSummary': summary } };
    }
    case 'lipschitz': {
      const { kind: _kind, ...estimate } = event;
      return { runId, timeMs, event: { 'ecgflow.LipschitzEstimate': estimate } };
    }
    case 'growth': {
      const { kind: _kind, trigger, ...growth } = event;
      return {
        runId,
        timeMs,
        event: { 'ecgflow.Growth': { ...growth, trigger: trigger === 'forced' ? 'FORCED' : 'THRESHOLD' } },
      };
    }
    case 'checkpoint': {
      const { kind: _kind, ...checkpoint } = event;
      return { runId, timeMs, event: { 'ecgflow.Checkpoint': checkpoint } };
    }
  }
}
