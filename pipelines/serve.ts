/**
 * Pipeline `serve`: samples topic -> sanitize -> resample -> QRS detection -> detector-driven beat
 * segmentation -> STFT -> micro-batched classification -> predictions topic; detections and classified
 * beats -> rhythm alerts -> alerts topic; training events -> hot model swap.
 *
 * Only wiring lives here. The per-batch logic (micro-batches bounded by size and time, flushing before the
 * ack, latency accounting, re-reading history for sources met mid-stream) is src/serving/engine.ts; the
 * model and its swap are src/serving/modelManager.ts; following the trainer is
 * src/serving/trainingEvents.ts. Live beats come from the project's own causal detector whether the
 * samples come from a bedside gateway or a replay: reference annotations riding on replayed chunks are
 * ignored here (they are only used to score the predictions afterwards).
 *
 * Finite runs (the main job, tests, the benchmark) pass `expectedSources`: the run resolves once each of
 * them has reached its end of stream and its predictions are flushed. Otherwise it runs until `stop()`,
 * which lets the batch in progress finish, flushes every source's state and closes.
 */
import { pipe, tap, type OperatorFunction, type Subscription } from 'rxjs';
import { detectQrs } from '../operators/detectQrs';
import { filterEcg } from '../operators/filterEcg';
import { resample } from '../operators/resample';
import {
  rhythmAlerts,
  rhythmEventsFromBlock,
  type RhythmAlertOptions,
  type RhythmEvent,
} from '../operators/rhythmAlerts';
import { sanitizeSamples } from '../operators/sanitizeSamples';
import { segmentBeats } from '../operators/segmentBeats';
import { spectrogram } from '../operators/spectrogram';
import type { BeatSpectrogram, SampleChunkLike, SignalEventSink } from '../operators/types';
import { consumeDecodedRounds } from '../src/bus/consume';
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Source } from '../src/bus/types';
import type { BeatPreparation } from '../src/beats/preparation';
import type { QrsDetectorConfig } from '../src/dsp/qrsDetector';
import type { StftConfig } from '../src/dsp/stft';
import type { Metrics } from '../src/metrics/registry';
import { SignalEventRecorder } from '../src/metrics/signalEvents';
import { getCodecs } from '../src/schemas/codec';
import type { AlertV1, SampleChunkV1 } from '../src/schemas/types';
import {
  ServeEngine,
  servableChunkProblem,
  type PredictionInfo,
  type ServeEngineConfig,
  type ServeEngineStats,
} from '../src/serving/engine';
import type { ModelManager } from '../src/serving/modelManager';
import type { SampleHistory } from '../src/serving/sampleHistory';
import { followTrainingEvents, type SwapPolicy } from '../src/serving/trainingEvents';

/**
 * Tuning of the live chain. How beats are cut (form, filtering, rate) is not here: it is the model's
 * (config.json `beats`), since a model fed beats cut otherwise classifies beats it never saw.
 */
export interface ServeChainConfig {
  detector?: Partial<QrsDetectorConfig>;
  stft?: Partial<StftConfig>;
}

export const DEFAULT_SERVE_CHAIN: ServeChainConfig = {};

/**
 * The operator chain of live classification: raw chunks -> detector-driven beats with spectrograms, cut
 * the way `beats` says (the serving model's preparation).
 */
export function serveChain(
  config: ServeChainConfig,
  beats: BeatPreparation,
  events: SignalEventSink | undefined,
  rhythm: (e: RhythmEvent) => void = () => undefined,
): OperatorFunction<SampleChunkLike, BeatSpectrogram> {
  const front = beats.filter
    ? pipe(sanitizeSamples({ events }), resample(beats.beatRateHz), filterEcg())
    : pipe(sanitizeSamples({ events }), resample(beats.beatRateHz));
  return pipe(
    front,
    detectQrs(config.detector),
    tap((block) => {
      for (const e of rhythmEventsFromBlock(block)) rhythm(e);
    }),
    segmentBeats({ rPeaks: 'detector', form: beats.form, events }),
    spectrogram(config.stft),
  );
}

export interface ServeConfig extends ServeEngineConfig {
  chain: ServeChainConfig;
  alerts: RhythmAlertOptions;
  deadLetterTopic: string;
  /** Finish once all of these sources have ended; undefined: run until stopped. */
  expectedSources?: ReadonlySet<string>;
  /** Give up (resolve with complete: false) after this long. */
  timeoutMs?: number;
}

export interface ServeSummary extends ServeEngineStats {
  complete: boolean;
  sourcesEnded: number;
  deadLetters: number;
  signalEvents: Record<string, number>;
  modelVersion: string;
  modelSwaps: number;
  modelLoadFailures: number;
  seconds: number;
}

export interface ServeDeps {
  source: Source;
  models: ModelManager;
  predictionsSink: BatchingSink;
  alertsSink: BatchingSink;
  deadLetterSink: BatchingSink;
  metrics: Metrics;
  log: (line: string) => void;
  history?: SampleHistory;
  /** Follow the trainer: its events source and which checkpoints to swap to. */
  training?: { source: Source; swapOn: SwapPolicy; sinceMs: number; runId?: string };
  onPrediction?: (info: PredictionInfo) => void;
  /** Predictions once acknowledged by the bus, with the acknowledgement time (latency as published). */
  onAcknowledged?: (infos: readonly PredictionInfo[], acknowledgedAtMs: number) => void;
  onAlert?: (alert: AlertV1) => void;
  /** Called after every acked round (one or more consumed batches) with its chunk count (progress). */
  onBatch?: (chunks: number) => void;
}

export interface ServeRun {
  done: Promise<ServeSummary>;
  /** Finish the batch in progress, flush every source, resolve `done`. */
  stop(): void;
  engine: ServeEngine;
}

export function runServe(config: ServeConfig, deps: ServeDeps): ServeRun {
  const stage = 'serve';
  const recorder = new SignalEventRecorder(deps.metrics, stage, deps.log);
  // Fixed for the run: the model manager only swaps in models trained on beats cut the same way.
  const beats = deps.models.current.beats;
  const engine = new ServeEngine(config, {
    chain: (rhythm) => serveChain(config.chain, beats, recorder, rhythm),
    alerts: rhythmAlerts(config.alerts),
    models: deps.models,
    predictionsSink: deps.predictionsSink,
    alertsSink: deps.alertsSink,
    metrics: deps.metrics,
    history: deps.history,
    log: deps.log,
    onPrediction: deps.onPrediction,
    onAcknowledged: deps.onAcknowledged,
    onAlert: deps.onAlert,
  });
  let deadLetters = 0;
  const deadLetterWriter = new DeadLetterWriter(deps.deadLetterSink, config.deadLetterTopic, stage, {
    inc: (labels) => {
      deadLetters++;
      deps.metrics.deadLetters.inc(labels);
    },
  });
  const ended = new Set<string>();
  const samplesCounter = deps.metrics.samples.labels(stage);
  const messagesCounter = deps.metrics.messages.labels(stage);
  const startMs = Date.now();
  const finished = () =>
    config.expectedSources !== undefined && [...config.expectedSources].every((s) => ended.has(s));

  let trainingSubscription: Subscription | undefined;
  let stopRequested: (() => void) | undefined;
  const done = new Promise<ServeSummary>((resolve, reject) => {
    let settled = false;
    // Assigned once consumption starts; the settle paths may run before (a timeout) or during (an error) that.
    const consuming: { subscription?: Subscription } = {};
    let inFlight: Promise<void> = Promise.resolve();
    const summary = (complete: boolean): ServeSummary => ({
      ...engine.stats,
      complete,
      sourcesEnded: ended.size,
      deadLetters,
      signalEvents: { ...recorder.totals },
      modelVersion: deps.models.current.version,
      modelSwaps: deps.models.swaps,
      modelLoadFailures: deps.models.failures.length,
      seconds: (Date.now() - startMs) / 1000,
    });
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      consuming.subscription?.unsubscribe();
      trainingSubscription?.unsubscribe();
      reject(err);
    };
    const settle = (complete: boolean, flush: boolean) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      consuming.subscription?.unsubscribe();
      trainingSubscription?.unsubscribe();
      // Let the batch in progress finish (its ack is dropped: it will be redelivered), then flush state.
      inFlight
        .catch(() => undefined)
        .then(() => (flush ? engine.end() : undefined))
        .then(() => resolve(summary(complete)), reject);
    };
    const timer =
      config.timeoutMs === undefined ? undefined : setTimeout(() => settle(false, true), config.timeoutMs);
    stopRequested = () => settle(finished(), true);

    if (deps.training !== undefined) {
      const training = deps.training;
      trainingSubscription = followTrainingEvents(
        {
          source: training.source,
          deadLetters: new DeadLetterWriter(deps.deadLetterSink, config.deadLetterTopic, stage, {
            inc: (labels) => deps.metrics.deadLetters.inc(labels),
          }),
          deadLetterSink: deps.deadLetterSink,
          sinceMs: training.sinceMs,
          swapOn: training.swapOn,
          runId: training.runId,
        },
        {
          onCheckpoint: (checkpoint, runId) => {
            deps.log(
              `serve: checkpoint ${checkpoint.modelVersion} (run ${runId}, epoch ${checkpoint.epoch + 1}, depth ${checkpoint.depth}) at ${checkpoint.path}: loading`,
            );
            deps.models.requestLoad(checkpoint.path, checkpoint.modelVersion);
          },
          onGrowth: (growth, runId) =>
            deps.log(
              `serve: run ${runId} grew from depth ${growth.depthBefore} to ${growth.depthAfter} after epoch ${growth.epoch + 1}; its next checkpoint carries the deeper model`,
            ),
        },
        (err) => {
          deps.log(
            `serve: following the training events failed (${err instanceof Error ? err.message : String(err)}); serving on with ${deps.models.current.version}`,
          );
          deps.metrics.errors.inc({ stage, code: 'TRAINING_EVENTS' });
        },
      );
    }

    // Rounds: the batches a Kafka fetch hands over together (the source's concurrentPartitions) are
    // classified together and cost one flush before they are all acked (src/bus/consume.ts).
    consuming.subscription = consumeDecodedRounds<SampleChunkV1>({
      source: deps.source,
      codec: getCodecs().SampleChunk,
      deadLetters: deadLetterWriter,
      // A chunk the chain cannot take (e.g. an absurd sampling rate) is dead-lettered, not a poison pill.
      validate: servableChunkProblem,
      sinks: [deps.predictionsSink, deps.alertsSink, deps.deadLetterSink],
      handler: (items) => {
        let chunkSamples = 0;
        for (const { value: c } of items) {
          chunkSamples += c.samples.length;
          if (c.endOfStream) ended.add(c.sourceId);
        }
        samplesCounter.inc(chunkSamples);
        messagesCounter.inc(items.length);
        const work = engine.handleBatch(items);
        inFlight = work;
        return work;
      },
    }).subscribe({
      next: (count) => {
        deps.onBatch?.(count);
        if (finished()) settle(true, false);
      },
      error: fail,
    });
    if (settled) consuming.subscription.unsubscribe();
  });
  return { done, stop: () => stopRequested?.(), engine };
}
