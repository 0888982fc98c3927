/**
 * Pipeline `detect`: samples -> sanitize -> (resample) -> (filter) -> QRS detection -> detections per
 * source (R-peak sample indices in each source's own numbering). Two entry points with one chain:
 * `detectChunks` runs it in process over chunks in memory; `runDetect` runs it on a bus source (Kafka),
 * through a long-lived OperatorAdapter across consumed batches. Both give identical detections for the
 * same chunks, because the operators' per-source results do not depend on how the input is batched or
 * how sources are interleaved.
 */
import { pipe, type OperatorFunction } from 'rxjs';
import { detectQrs } from '../operators/detectQrs';
import { filterEcg } from '../operators/filterEcg';
import { resample } from '../operators/resample';
import { sanitizeSamples } from '../operators/sanitizeSamples';
import type { SampleChunkLike, SignalBlock, SignalEventSink } from '../operators/types';
import { consumeDecoded } from '../src/bus/consume';
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Source } from '../src/bus/types';
import type { QrsDetectorConfig } from '../src/dsp/qrsDetector';
import type { Metrics } from '../src/metrics/registry';
import { getCodecs } from '../src/schemas/codec';
import type { SampleChunkV1 } from '../src/schemas/types';
import { OperatorAdapter } from '../src/stream/operatorAdapter';
import { runUntilDone } from '../src/stream/runUntilDone';

export interface DetectChainConfig {
  /** Resample to this rate before detecting; undefined: detect at each source's own rate. */
  sampleRateHz?: number;
  /** Baseline and noise filtering before detection. */
  filter: boolean;
  detector?: Partial<QrsDetectorConfig>;
}

export interface DetectConfig extends DetectChainConfig {
  expectedSources: ReadonlySet<string>;
  deadLetterTopic: string;
  timeoutMs: number;
}

export interface DetectRunResult {
  complete: boolean;
  /** Detected R-peaks per source, in the source's own sample numbering, ascending. */
  detections: Map<string, number[]>;
  chunks: number;
  samples: number;
  events: Record<string, number>;
  deadLetters: number;
  seconds: number;
}

export function detectionChain(
  config: DetectChainConfig,
  events?: SignalEventSink,
): OperatorFunction<SampleChunkLike, SignalBlock> {
  const steps: OperatorFunction<SignalBlock, SignalBlock>[] = [];
  if (config.sampleRateHz !== undefined) steps.push(resample(config.sampleRateHz));
  if (config.filter) steps.push(filterEcg());
  steps.push(detectQrs(config.detector));
  return pipe(sanitizeSamples({ events }), (source$) => steps.reduce((acc, op) => op(acc), source$));
}

function collect(blocks: readonly SignalBlock[], into: Map<string, number[]>): void {
  for (const b of blocks) {
    for (const m of b.marks) {
      if (m.origin !== 'detector') continue;
      let list = into.get(b.sourceId);
      if (list === undefined) {
        list = [];
        into.set(b.sourceId, list);
      }
      list.push(m.sourceSampleIndex);
    }
  }
}

/** Run the detection chain over chunks in memory (any interleaving of sources). */
export function detectChunks(
  chunks: Iterable<SampleChunkLike>,
  config: DetectChainConfig,
  events?: SignalEventSink,
): Map<string, number[]> {
  const adapter = new OperatorAdapter(detectionChain(config, events));
  const out = new Map<string, number[]>();
  collect(adapter.process(chunks), out);
  collect(adapter.end(), out);
  return out;
}

/** Consume sample chunks from a bus until every expected source has ended; return the detections. */
export function runDetect(
  config: DetectConfig,
  source: Source,
  deadLetterSink: BatchingSink,
  metrics: Metrics,
  events?: SignalEventSink & { totals?: Record<string, number> },
): Promise<DetectRunResult> {
  const stage = 'detect';
  const adapter = new OperatorAdapter(detectionChain(config, events));
  const detections = new Map<string, number[]>();
  const ended = new Set<string>();
  const samplesCounter = metrics.samples.labels(stage);
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
  return runUntilDone<DetectRunResult>({
    stream: consumeDecoded<SampleChunkV1>({
      source,
      codec: getCodecs().SampleChunk,
      deadLetters: deadLetterWriter,
      sinks: [deadLetterSink],
      handler: (items) => {
        const values = items.map((i) => i.value);
        for (const c of values) {
          chunks++;
          samples += c.samples.length;
          if (c.endOfStream) ended.add(c.sourceId);
        }
        samplesCounter.inc(values.reduce((n, c) => n + c.samples.length, 0));
        collect(adapter.process(values), detections);
      },
    }),
    isDone: () => [...config.expectedSources].every((s) => ended.has(s)),
    result: (complete) => {
      for (const list of detections.values()) list.sort((a, b) => a - b);
      return {
        complete,
        detections,
        chunks,
        samples,
        events: { ...(events?.totals ?? {}) },
        deadLetters,
        seconds: (Date.now() - startMs) / 1000,
      };
    },
    timeoutMs: config.timeoutMs,
  }).done;
}
