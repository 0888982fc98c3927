/**
 * What the trainer reports, as plain objects on an RxJS stream. The training pipeline maps them onto the
 * Avro `TrainingEvent` schema for `ecg.training.events`; the trainer itself knows nothing of Kafka.
 */

export interface EpochEvent {
  kind: 'epoch';
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  validationLoss: number | null;
  validationAccuracy: number | null;
  learningRate: number;
  depth: number;
  parameters: number;
  /** Wall-clock seconds of this epoch (data, steps, validation, Lipschitz). */
  seconds: number;
  /** Wall-clock seconds since the run started, at the end of this epoch. */
  elapsedSeconds: number;
  backend: string;
}

export interface LipschitzEvent {
  kind: 'lipschitz';
  epoch: number;
  perBlock: number[];
  mean: number;
  smoothed: number | null;
  ratioToReference: number | null;
  seconds: number;
}

export interface GrowthEvent {
  kind: 'growth';
  epoch: number;
  trigger: 'threshold' | 'forced';
  smoothedLipschitz: number;
  ratio: number;
  depthBefore: number;
  depthAfter: number;
  parametersBefore: number;
  parametersAfter: number;
}

export interface CheckpointEvent {
  kind: 'checkpoint';
  epoch: number;
  path: string;
  modelVersion: string;
  depth: number;
}

export type TrainerEvent = EpochEvent | LipschitzEvent | GrowthEvent | CheckpointEvent;
