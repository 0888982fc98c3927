/**
 * Trainer events onto the training metrics (the trainer itself knows nothing of Prometheus).
 */
import type { TrainerEvent } from '../trainer/events';
import type { Metrics } from './registry';

export function recordTrainingEvent(metrics: Metrics, mode: string, event: TrainerEvent, ppe: number): void {
  switch (event.kind) {
    case 'epoch':
      metrics.trainingLoss.set({ mode, split: 'train' }, event.trainLoss);
      metrics.trainingAccuracy.set({ mode, split: 'train' }, event.trainAccuracy);
      if (event.validationLoss !== null)
        metrics.trainingLoss.set({ mode, split: 'validation' }, event.validationLoss);
      if (event.validationAccuracy !== null)
        metrics.trainingAccuracy.set({ mode, split: 'validation' }, event.validationAccuracy);
      metrics.trainingLearningRate.set({ mode }, event.learningRate);
      metrics.trainingEpochs.inc({ mode });
      metrics.trainingDepth.set({ mode }, event.depth);
      metrics.trainingParameters.set({ mode }, event.parameters);
      metrics.trainingPpe.set({ mode }, ppe);
      metrics.trainingEpochDuration.observe({ mode }, event.seconds);
      break;
    case 'lipschitz':
      metrics.trainingLipschitzMean.set({ mode }, event.mean);
      if (event.smoothed !== null) metrics.trainingLipschitzSmoothed.set({ mode }, event.smoothed);
      metrics.trainingLipschitzDuration.observe({ mode }, event.seconds);
      break;
    case 'growth':
      metrics.trainingGrowths.inc({ mode, trigger: event.trigger });
      metrics.trainingDepth.set({ mode }, event.depthAfter);
      metrics.trainingParameters.set({ mode }, event.parametersAfter);
      break;
    case 'checkpoint':
      break;
  }
}
