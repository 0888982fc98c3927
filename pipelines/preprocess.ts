/**
 * Pipeline `preprocess`: samples topic -> sanitize -> resample to the beat rate -> (optional filter) ->
 * annotation-driven beat segmentation -> split per protocol -> beats topic.
 *
 * The operator chain is stateful (per-source filters, 10 s windows), so it lives in one long-lived
 * OperatorAdapter across consumed batches: each batch's chunks go in, the beats they complete come out
 * synchronously, are written to the beats sink, and the batch is acked only after the sink has flushed
 * (consumeDecoded). Delivery is at least once (see src/stream/operatorAdapter.ts): a beat may be written
 * again after a crash; (sourceId, rPeakSampleIndex) identifies it. Bad input becomes events, counted in
 * `ecg_signal_events_total` and logged.
 *
 * Finite runs (`beats build`, tests) pass `expectedSources`: the pipeline resolves once each of them has
 * reached its end of stream and everything is flushed. Without it, it runs until `stop` is called.
 */
import { pipe, type OperatorFunction } from 'rxjs';
import { filterEcg } from '../operators/filterEcg';
import { resample } from '../operators/resample';
import { sanitizeSamples } from '../operators/sanitizeSamples';
import { segmentBeats } from '../operators/segmentBeats';
import type { SampleChunkLike, SegmentedBeat, SignalEventSink } from '../operators/types';
import type { BeatForm } from '../src/dsp/beatWindows';
import { toBeatMessage } from '../src/beats/message';
import { BeatTally, type BeatTallySummary } from '../src/beats/tally';
import { consumeDecoded } from '../src/bus/consume';
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Source } from '../src/bus/types';
import type { Metrics } from '../src/metrics/registry';
import { SignalEventRecorder } from '../src/metrics/signalEvents';
import { assignSplit, type SplitConfig } from '../src/protocols/split';
import { getCodecs } from '../src/schemas/codec';
import type { SampleChunkV1 } from '../src/schemas/types';
import { OperatorAdapter } from '../src/stream/operatorAdapter';
import { aamiClass, isBeat } from '../src/wfdb/labels';
import { runUntilDone } from '../src/stream/runUntilDone';

export interface PreprocessConfig {
  split: SplitConfig;
  /** Rate of the output beats (Hz); 125 for the seed paper. */
  beatSampleRateHz: number;
  form: BeatForm;
  /** Baseline-wander and noise filtering before segmentation (off for the seed paper's beats). */
  filter: boolean;
  beatsTopic: string;
  deadLetterTopic: string;
  /** Finish when all of these sources have ended; undefined: run until stopped. */
  expectedSources?: ReadonlySet<string>;
  /** Give up (resolve with complete: false) after this long. */
  timeoutMs?: number;
  /** Written as header `ecgflow-run` on every beat, so a run's beats can be told apart on a shared topic. */
  runId?: string;
}

export interface PreprocessSummary extends BeatTallySummary {
  complete: boolean;
  sources: number;
  chunks: number;
  samples: number;
  deadLetters: number;
  events: Record<string, number>;
  seconds: number;
}

export interface PreprocessRun {
  done: Promise<PreprocessSummary>;
  stop(): void;
}

export const RUN_HEADER = 'ecgflow-run';

/** The operator chain of the pipeline: raw chunks -> labelled beats. */
export function preprocessChain(
  config: Pick<PreprocessConfig, 'beatSampleRateHz' | 'form' | 'filter'>,
  events: SignalEventSink,
): OperatorFunction<SampleChunkLike, SegmentedBeat> {
  const segment = segmentBeats({
    rPeaks: 'reference',
    isBeat,
    classOf: aamiClass,
    form: config.form,
    events,
  });
  return config.filter
    ? pipe(sanitizeSamples({ events }), resample(config.beatSampleRateHz), filterEcg(), segment)
    : pipe(sanitizeSamples({ events }), resample(config.beatSampleRateHz), segment);
}

export function runPreprocess(
  config: PreprocessConfig,
  source: Source,
  beatsSink: BatchingSink,
  deadLetterSink: BatchingSink,
  metrics: Metrics,
  log: (line: string) => void,
  onSamples: (samples: number) => void = () => undefined,
): PreprocessRun {
  const stage = 'preprocess';
  const codec = getCodecs().Beat;
  const recorder = new SignalEventRecorder(metrics, stage, log);
  const adapter = new OperatorAdapter(preprocessChain(config, recorder));
  const tally = new BeatTally();
  const sequence = new Map<string, number>();
  const sources = new Set<string>();
  const ended = new Set<string>();
  const samplesCounter = metrics.samples.labels(stage);
  const messagesCounter = metrics.messages.labels(stage);
  let chunks = 0;
  let samples = 0;
  let deadLetters = 0;
  const deadLetterWriter = new DeadLetterWriter(deadLetterSink, config.deadLetterTopic, stage, {
    inc: (labels) => {
      deadLetters++;
      metrics.deadLetters.inc(labels);
    },
  });
  const startMs = Date.now();
  const headers = config.runId === undefined ? undefined : { [RUN_HEADER]: config.runId };

  const writeBeats = async (beats: SegmentedBeat[]) => {
    for (const beat of beats) {
      const split = assignSplit(config.split, beat.sourceId, beat.rPeakSourceIndex);
      const message = toBeatMessage(beat, split ?? null, 0);
      tally.add(message.aamiClass, split);
      if (split === undefined) continue;
      const seq = sequence.get(beat.sourceId) ?? 0;
      sequence.set(beat.sourceId, seq + 1);
      message.sequenceNumber = seq;
      await beatsSink.write(config.beatsTopic, {
        key: beat.sourceId,
        value: codec.encode(message),
        timestampMs: beat.rPeakTimeMs,
        headers,
      });
      messagesCounter.inc();
    }
  };

  const finished = () =>
    config.expectedSources !== undefined && [...config.expectedSources].every((s) => ended.has(s));

  const run = runUntilDone<PreprocessSummary>({
    stream: consumeDecoded<SampleChunkV1>({
      source,
      codec: getCodecs().SampleChunk,
      deadLetters: deadLetterWriter,
      sinks: [beatsSink, deadLetterSink],
      handler: async (items) => {
        const values = items.map((i) => i.value);
        for (const c of values) {
          sources.add(c.sourceId);
          chunks++;
          samples += c.samples.length;
          if (c.endOfStream) ended.add(c.sourceId);
        }
        const batchSamples = values.reduce((n, c) => n + c.samples.length, 0);
        samplesCounter.inc(batchSamples);
        await writeBeats(adapter.process(values));
        onSamples(batchSamples);
      },
    }),
    isDone: finished,
    result: (complete) => ({
      complete,
      sources: sources.size,
      chunks,
      samples,
      deadLetters,
      events: { ...recorder.totals },
      seconds: (Date.now() - startMs) / 1000,
      ...tally.summary(),
    }),
    timeoutMs: config.timeoutMs,
  });
  return { done: run.done, stop: () => run.settle(finished()) };
}
