/**
 * An intra-patient beat log of a few records on the test broker, under a fresh topic prefix: what the
 * training and serving integration tests train on. Every topic it names is added to `created` for the
 * test file's cleanup.
 */
import type { BeatPreparation } from '../../src/beats/preparation';
import type { Bus } from '../../src/bus/types';
import { topicNames, type TopicNames } from '../../src/bus/topics';
import { beatsTopicFor, ensureBeatLog } from '../../src/cli/training';
import { uniquePrefix } from './env';

export interface TestBeatLog {
  prefix: string;
  topics: TopicNames;
  beatsTopic: string;
  /** Beats in the log. */
  beats: number;
  /** The part of a training run's config that names this log and its topics. */
  run: { protocol: 'intra'; beatsTopic: string; eventsTopic: string; deadLetterTopic: string };
}

export async function beatLogOnBroker(
  bus: Bus,
  options: { name: string; brokers: string[]; dataDir: string; records: string[]; beats: BeatPreparation },
  created: string[],
): Promise<TestBeatLog> {
  const prefix = uniquePrefix(options.name);
  const topics = topicNames(prefix);
  const beatsTopic = beatsTopicFor({ topicPrefix: prefix, protocol: 'intra' }, options.beats);
  created.push(beatsTopic, topics.trainingEvents, topics.deadLetter, topics.beats);
  const beats = await ensureBeatLog(bus, {
    topic: beatsTopic,
    beats: options.beats,
    protocol: 'intra',
    dataDir: options.dataDir,
    records: options.records,
    brokers: options.brokers,
    topicPrefix: prefix,
  });
  const run = {
    protocol: 'intra' as const,
    beatsTopic,
    eventsTopic: topics.trainingEvents,
    deadLetterTopic: topics.deadLetter,
  };
  return { prefix, topics, beatsTopic, beats, run };
}
