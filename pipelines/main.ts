/**
 * The main job, as far as the project has built it: replay the database onto the samples topic and
 * consume it back with per-record accounting, on whichever bus the caller opened. Later stages
 * (preprocess, adaptive training, live classification) attach here as they land.
 */
import { BatchingSink } from '../src/bus/sink';
import { topicSpecs, type TopicNames } from '../src/bus/topics';
import type { Bus } from '../src/bus/types';
import type { EnergyTracker } from '../src/energy/tracker';
import type { Metrics } from '../src/metrics/registry';
import { runReplay, type ReplaySummary } from './replay';
import { runSampleCheck, type SampleCheckResult } from './sampleCheck';

export interface MainJobConfig {
  dataDir: string;
  records: readonly string[];
  /** Expected samples per record (from the headers), to prove completeness. */
  expectedSamples: ReadonlyMap<string, number | undefined>;
  speed: number | 'max';
  lead: string;
  topics: TopicNames;
  groupId: string;
  timeoutMs: number;
}

export interface MainJobSummary {
  replay: ReplaySummary;
  consumed: SampleCheckResult;
}

export async function runMainJob(
  config: MainJobConfig,
  bus: Bus,
  metrics: Metrics,
  onProgress: (stage: 'replayed' | 'consumed', samples: number) => void,
  /** Energy while the replay runs is attributed to `replay`, the rest of the job's to `other`. */
  energy?: Pick<EnergyTracker, 'begin'>,
): Promise<MainJobSummary> {
  await bus.ensureTopics(topicSpecs(config.topics));
  const producerSink = new BatchingSink(await bus.producer());
  const deadLetterSink = new BatchingSink(await bus.producer());
  const source = bus.source({
    groupId: config.groupId,
    topics: [config.topics.samples],
    fromBeginning: true,
  });
  try {
    const consuming = runSampleCheck(
      {
        expected: config.expectedSamples,
        deadLetterTopic: config.topics.deadLetter,
        timeoutMs: config.timeoutMs,
      },
      source,
      deadLetterSink,
      metrics,
      (chunk) => onProgress('consumed', chunk.samples.length),
    );
    const replaySpan = energy?.begin('replay');
    const replay = await runReplay(
      {
        dataDir: config.dataDir,
        records: config.records,
        speed: config.speed,
        lead: config.lead,
        chunkSeconds: 1,
        annotator: 'atr',
        samplesTopic: config.topics.samples,
      },
      producerSink,
      metrics,
      (e) => onProgress('replayed', e.samples),
    );
    await replaySpan?.end();
    const consumed = await consuming;
    return { replay, consumed };
  } finally {
    await source.stopped();
    await producerSink.close();
    await deadLetterSink.close();
  }
}
