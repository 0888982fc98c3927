/**
 * Topic names and partition counts. Partition counts are explicit (auto-creation is off on the project's
 * broker) because they bound consumer parallelism and fix the key -> partition mapping for per-patient order.
 */
import type { TopicSpec } from './types';

export interface TopicNames {
  samples: string;
  beats: string;
  predictions: string;
  trainingEvents: string;
  alerts: string;
  deadLetter: string;
}

export const DEFAULT_TOPICS: TopicNames = {
  samples: 'ecg.samples',
  beats: 'ecg.beats',
  predictions: 'ecg.predictions',
  trainingEvents: 'ecg.training.events',
  alerts: 'ecg.alerts',
  deadLetter: 'ecg.deadletter',
};

export const DEFAULT_PARTITIONS: Record<keyof TopicNames, number> = {
  samples: 6,
  beats: 6,
  predictions: 6,
  trainingEvents: 1,
  alerts: 3,
  deadLetter: 1,
};

/** Topic names with an optional prefix (tests and parallel runs use one to stay isolated). */
export function topicNames(prefix = ''): TopicNames {
  const out = { ...DEFAULT_TOPICS };
  for (const k of Object.keys(out) as (keyof TopicNames)[]) out[k] = `${prefix}${out[k]}`;
  return out;
}

export function topicSpecs(
  names: TopicNames,
  partitions: Partial<Record<keyof TopicNames, number>> = {},
): TopicSpec[] {
  return (Object.keys(names) as (keyof TopicNames)[]).map((k) => ({
    topic: names[k],
    partitions: partitions[k] ?? DEFAULT_PARTITIONS[k],
  }));
}
