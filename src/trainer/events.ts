/**
 * What the trainer reports, as plain objects on an RxJS stream: the fields of the `TrainingEvent` schema's
 * members (schemas/training-event.avsc) plus a `kind` tag. The training pipeline publishes them on
 * `ecg.training.events`; the trainer itself knows nothing of Kafka.
 */
import type { Checkpoint, EpochSummary, Growth, LipschitzEstimate } from '../schemas/types';

export interface EpochEvent extends EpochSummary {
  kind: 'epoch';
  /** Wall-clock seconds since the run started, at the end of this epoch (`seconds` is this epoch's). */
  elapsedSeconds: number;
}

export interface LipschitzEvent extends LipschitzEstimate {
  kind: 'lipschitz';
}

export interface GrowthEvent extends Omit<Growth, 'trigger'> {
  kind: 'growth';
  trigger: 'threshold' | 'forced';
}

export interface CheckpointEvent extends Checkpoint {
  kind: 'checkpoint';
}

export type TrainerEvent = EpochEvent | LipschitzEvent | GrowthEvent | CheckpointEvent;
