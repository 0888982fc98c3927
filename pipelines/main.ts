/**
 * The main job's pipelines, on whichever bus the caller opened: `runMainJob` replays the database onto
 * the samples topic and consumes it back with per-record accounting; `runLiveStage` replays records again
 * while `serve` classifies them live, and scores the predictions against the reference annotations. The
 * stages in between (preprocess into the beat log, adaptive training) are the `beats` and `train`
 * pipelines, run by the `run` command (src/cli/mission.ts).
 */
import { DEFAULT_CONCURRENT_PARTITIONS } from '../src/bus/consume';
import { instrumentSource } from '../src/metrics/instrument';
import { BatchingSink } from '../src/bus/sink';
import { topicSpecs, type TopicNames } from '../src/bus/topics';
import type { Bus } from '../src/bus/types';
import type { EnergyTracker } from '../src/energy/tracker';
import type { Metrics } from '../src/metrics/registry';
import { LiveScorer, Quantiles, type LiveScore } from '../src/serving/liveScore';
import type { ModelManager } from '../src/serving/modelManager';
import type { SampleHistory } from '../src/serving/sampleHistory';
import { readAnnotations, readHeader } from '../src/wfdb/record';
import { runReplay, type ReplaySummary } from './replay';
import { runSampleCheck, type SampleCheckResult } from './sampleCheck';
import { runServe, type ServeConfig, type ServeSummary } from './serve';

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

export interface LiveStageConfig {
  dataDir: string;
  /** Records replayed and classified live (each must reach its end). */
  records: readonly string[];
  speed: number | 'max';
  lead: string;
  topics: TopicNames;
  /** The serve group; it must start at the current end of the samples topic (on Kafka, positioned there first). */
  groupId: string;
  serve: Omit<ServeConfig, 'expectedSources'>;
  /**
   * Which matched reference beats (record, annotation sample) count in the classification figures: the
   * beats the model did not train on. All when absent.
   */
  scoredBeat?: (record: string, referenceSampleIndex: number) => boolean;
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p99: number | null;
}

export interface LiveStageSummary {
  records: number;
  /** The live replay's speed: latencies are on its clock (look-ahead shrinks with it, processing does not). */
  speed: number | 'max';
  samples: number;
  serve: ServeSummary;
  predictions: number;
  /** Distinct beats (dedupKey) among the predictions. */
  beats: number;
  duplicates: number;
  beatsPerSecond: number;
  seconds: number;
  /** Seconds, wall clock: inherent segmentation look-ahead, processing, and their sum. */
  latency: { lookAhead: LatencySummary; processing: LatencySummary; endToEnd: LatencySummary };
  score: LiveScore;
  alerts: Record<string, number>;
}

const summarise = (q: Quantiles): LatencySummary => ({
  count: q.count,
  p50: q.quantile(0.5),
  p99: q.quantile(0.99),
});

/**
 * Live classification of replayed records: serve runs on the samples topic while the records are
 * replayed onto it (paced at `speed`, so that latency measures processing rather than a backlog), until
 * every record has ended; then every record's predictions are matched with its reference beats (150 ms).
 */
export async function runLiveStage(
  config: LiveStageConfig,
  bus: Bus,
  models: ModelManager,
  metrics: Metrics,
  log: (line: string) => void,
  options: {
    history?: SampleHistory;
    onProgress?: (samples: number) => void;
    onPredictions?: (count: number) => void;
  } = {},
): Promise<LiveStageSummary> {
  await bus.ensureTopics(topicSpecs(config.topics));
  const predictionsSink = new BatchingSink(await bus.producer());
  const alertsSink = new BatchingSink(await bus.producer());
  const deadLetterSink = new BatchingSink(await bus.producer());
  const replaySink = new BatchingSink(await bus.producer());
  const source = instrumentSource(
    bus.source({
      groupId: config.groupId,
      topics: [config.topics.samples],
      fromBeginning: false,
      concurrentPartitions: DEFAULT_CONCURRENT_PARTITIONS,
    }),
    metrics,
    'serve',
  );
  const byRecord = new Map<string, Map<number, string>>();
  let predictions = 0;
  const lookAhead = new Quantiles();
  const processing = new Quantiles();
  const endToEnd = new Quantiles();
  const alerts: Record<string, number> = {};
  const startMs = Date.now();
  try {
    const serve = runServe(
      { ...config.serve, expectedSources: new Set(config.records) },
      {
        source,
        models,
        predictionsSink,
        alertsSink,
        deadLetterSink,
        metrics,
        log,
        history: options.history,
        onPrediction: ({ prediction: p, recovered, lookAheadWallSeconds }) => {
          predictions++;
          let m = byRecord.get(p.sourceId);
          if (m === undefined) {
            m = new Map();
            byRecord.set(p.sourceId, m);
          }
          m.set(p.rPeakSampleIndex, p.predictedClass);
          if (!recovered) {
            lookAhead.add(lookAheadWallSeconds);
            processing.add(p.latencySeconds);
            endToEnd.add(p.latencySeconds + lookAheadWallSeconds);
          }
          options.onPredictions?.(1);
        },
        onAlert: (a) => {
          alerts[a.kind] = (alerts[a.kind] ?? 0) + 1;
        },
      },
    );
    const replay = await runReplay(
      {
        dataDir: config.dataDir,
        records: config.records,
        speed: config.speed,
        lead: config.lead,
        chunkSeconds: 1,
        annotator: undefined,
        samplesTopic: config.topics.samples,
      },
      replaySink,
      metrics,
      (e) => options.onProgress?.(e.samples),
    );
    const served = await serve.done;
    const seconds = (Date.now() - startMs) / 1000;
    const scorer = new LiveScorer();
    for (const record of config.records) {
      const header = await readHeader(config.dataDir, record);
      const reference = (await readAnnotations(config.dataDir, record, 'atr')).map((a) => ({
        sampleIndex: a.sample,
        symbol: a.symbol,
      }));
      const predicted = [...(byRecord.get(record) ?? new Map<number, string>())].map(
        ([rPeakSampleIndex, predictedClass]) => ({ rPeakSampleIndex, predictedClass }),
      );
      const scoredBeat = config.scoredBeat;
      scorer.add(
        reference,
        predicted,
        header.sampleRateHz,
        scoredBeat === undefined ? undefined : (sampleIndex) => scoredBeat(record, sampleIndex),
      );
    }
    const beats = [...byRecord.values()].reduce((n, m) => n + m.size, 0);
    return {
      records: config.records.length,
      speed: config.speed,
      samples: replay.samples,
      serve: served,
      predictions,
      beats,
      duplicates: predictions - beats,
      beatsPerSecond: beats / seconds,
      seconds,
      latency: {
        lookAhead: summarise(lookAhead),
        processing: summarise(processing),
        endToEnd: summarise(endToEnd),
      },
      score: scorer.score(),
      alerts,
    };
  } finally {
    await source.stopped();
    await replaySink.close();
    await predictionsSink.close();
    await alertsSink.close();
    await deadLetterSink.close();
  }
}
