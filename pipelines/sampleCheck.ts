/**
 * Pipeline `sample-check`: samples topic -> decode (bad messages to the dead-letter topic) -> per-source
 * sequence accounting. It finishes when every expected source has delivered its end-of-stream chunk
 * with all its samples, and reports what arrived. Used by the replay benchmark, the integration tests
 * and the main job to prove that nothing was lost or duplicated on the way.
 */
import { consumeDecoded } from '../src/bus/consume';
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Source } from '../src/bus/types';
import { instrumentSource } from '../src/metrics/instrument';
import type { Metrics } from '../src/metrics/registry';
import { getCodecs } from '../src/schemas/codec';
import type { SampleChunkV1 } from '../src/schemas/types';
import { StreamCheck, type StreamCheckSummary } from '../src/replay/streamCheck';
import { runUntilDone } from '../src/stream/runUntilDone';

export interface SampleCheckConfig {
  /** Sources (record ids) that must reach end of stream, with their expected sample counts if known. */
  expected: ReadonlyMap<string, number | undefined>;
  deadLetterTopic: string;
  /** Give up after this long without completion. */
  timeoutMs: number;
}

export interface SampleCheckResult extends StreamCheckSummary {
  complete: boolean;
  deadLetters: number;
  /** Samples that differ from `expectedSamples`, per source (empty when all match). */
  mismatchedSources: string[];
  seconds: number;
}

export function runSampleCheck(
  config: SampleCheckConfig,
  source: Source,
  deadLetterSink: BatchingSink,
  metrics: Metrics,
  onChunk: (chunk: SampleChunkV1) => void = () => undefined,
): Promise<SampleCheckResult> {
  const check = new StreamCheck();
  const stage = 'sample-check';
  const samplesCounter = metrics.samples.labels(stage);
  const messagesCounter = metrics.messages.labels(stage);
  const latency = metrics.endToEndLatency.labels(stage);
  let deadLetters = 0;
  const deadLetterWriter = new DeadLetterWriter(deadLetterSink, config.deadLetterTopic, stage, {
    inc: (labels) => {
      deadLetters++;
      metrics.deadLetters.inc(labels);
    },
  });
  const startMs = Date.now();

  const finished = (): boolean => {
    for (const [id, samples] of config.expected) {
      const t = check.bySource.get(id);
      if (t === undefined || !t.ended) return false;
      if (samples !== undefined && t.samples < samples) return false;
    }
    return true;
  };

  return runUntilDone<SampleCheckResult>({
    stream: consumeDecoded<SampleChunkV1>({
      source: instrumentSource(source, metrics, stage),
      codec: getCodecs().SampleChunk,
      deadLetters: deadLetterWriter,
      sinks: [deadLetterSink],
      handler: (items) => {
        const nowMs = Date.now();
        for (const { value } of items) {
          check.add(value);
          samplesCounter.inc(value.samples.length);
          // From the acquisition of the chunk's first sample to its arrival here (bus transit and queueing).
          latency.observe(Math.max(0, nowMs - value.acquisitionTimeMs) / 1000);
          onChunk(value);
        }
        messagesCounter.inc(items.length);
      },
    }),
    isDone: finished,
    result: (complete) => {
      const mismatchedSources = [...config.expected]
        .filter(([id, n]) => n !== undefined && check.bySource.get(id)?.samples !== n)
        .map(([id]) => id);
      return {
        ...check.summary(),
        complete,
        deadLetters,
        mismatchedSources,
        seconds: (Date.now() - startMs) / 1000,
      };
    },
    timeoutMs: config.timeoutMs,
  }).done;
}
