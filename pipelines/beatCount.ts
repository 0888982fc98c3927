/**
 * Pipeline `beat-count`: beats topic -> decode -> counts per AAMI class and split. `beats build` runs it
 * after `preprocess` to prove that what the pipeline reports is what a consumer of the beats topic gets;
 * with `runId` it counts only that run's beats (header `ecgflow-run`), so a shared topic can hold older
 * runs. It resolves once `expectedBeats` beats were counted, or at the timeout.
 */
import { consumeDecoded } from '../src/bus/consume';
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Source } from '../src/bus/types';
import { BeatTally, type BeatTallySummary } from '../src/beats/tally';
import type { Metrics } from '../src/metrics/registry';
import { getCodecs } from '../src/schemas/codec';
import type { BeatV1 } from '../src/schemas/types';
import { RUN_HEADER } from './preprocess';
import { runUntilDone } from '../src/stream/runUntilDone';
import { beatKey } from '../src/beats/message';

export interface BeatCountConfig {
  /** Finish once this many beats were counted (a promise: the count may only be known later). */
  expectedBeats: number | Promise<number>;
  runId?: string;
  deadLetterTopic: string;
  timeoutMs: number;
}

export interface BeatCountResult extends BeatTallySummary {
  complete: boolean;
  /** Beats seen more than once (same source and R-peak), e.g. after a redelivery; counted once. */
  duplicates: number;
}

export function runBeatCount(
  config: BeatCountConfig,
  source: Source,
  deadLetterSink: BatchingSink,
  metrics: Metrics,
  onBeat: (beat: BeatV1) => void = () => undefined,
): Promise<BeatCountResult> {
  const stage = 'beat-count';
  const tally = new BeatTally();
  const seen = new Set<string>();
  let duplicates = 0;
  const deadLetters = new DeadLetterWriter(deadLetterSink, config.deadLetterTopic, stage, {
    inc: (labels) => metrics.deadLetters.inc(labels),
  });
  let expected = Infinity;
  const run = runUntilDone<BeatCountResult>({
    stream: consumeDecoded<BeatV1>({
      source,
      codec: getCodecs().Beat,
      deadLetters,
      sinks: [deadLetterSink],
      handler: (items) => {
        for (const { value, message } of items) {
          if (config.runId !== undefined && message.headers[RUN_HEADER] !== config.runId) continue;
          const key = beatKey(value);
          if (seen.has(key)) {
            duplicates++;
            continue;
          }
          seen.add(key);
          tally.add(value.aamiClass, value.split);
          onBeat(value);
        }
      },
    }),
    isDone: () => tally.total >= expected,
    result: (complete) => ({ complete, duplicates, ...tally.summary() }),
    timeoutMs: config.timeoutMs,
  });
  Promise.resolve(config.expectedBeats).then(
    (n) => {
      expected = n;
      run.check();
    },
    () => run.settle(false),
  );
  return run.done;
}
