/**
 * Bounded passes over the beat log (end offsets fixed in advance), shared by training and evaluation:
 * decode (bad messages to the dead-letter topic), keep a deterministic subset, drop beats already seen
 * in this pass (the log is written at least once), and hand the rest to a handler; or collect the
 * examples of chosen splits into typed slabs.
 */
import { lastValueFrom } from 'rxjs';
import { consumeDecoded } from '../src/bus/consume';
import { BeatLogChangedError } from '../src/errors';
import type { DeadLetterWriter } from '../src/bus/deadLetter';
import { readLog } from '../src/bus/readLog';
import type { BatchingSink } from '../src/bus/sink';
import type { Bus } from '../src/bus/types';
import { beatKey } from '../src/beats/message';
import { hashToUnit } from '../src/dsp/random';
import { getCodecs } from '../src/schemas/codec';
import type { BeatV1 } from '../src/schemas/types';
import { beatSchemaVersionNeeded, beatSchemaVersionOf } from '../src/trainer/beatFeatures';
import { ExampleSet, type ExampleEncoder } from '../src/trainer/examples';

export interface BeatLog {
  bus: Bus;
  topic: string;
  endOffsets: readonly number[];
  /** Share of beats kept, by a seeded hash of (source, R-peak): the same subset in every pass. */
  fraction: number;
  seed: number;
  deadLetters: DeadLetterWriter;
  deadLetterSink: BatchingSink;
  /** Sources whose training beats count as validation (patient-wise validation); empty: none. */
  heldOut: ReadonlySet<string>;
  /** Why a decoded beat cannot be used (then dead-lettered, e.g. src/beats/beatProblem.ts), or undefined. */
  validate?: (beat: BeatV1) => string | undefined;
}

/** A beat's split in this run: the protocol's, except that held-out sources' training beats validate. */
export function splitOf(
  log: Pick<BeatLog, 'heldOut'>,
  beat: Pick<BeatV1, 'split' | 'sourceId'>,
): string | null {
  return beat.split === 'train' && log.heldOut.has(beat.sourceId) ? 'validation' : beat.split;
}

export { beatKey };

/** One pass: `handle` gets each consumed batch's kept, first-seen beats; the batch is acked after it. */
export async function passOverBeatLog(
  log: BeatLog,
  groupId: string,
  handle: (beats: BeatV1[]) => Promise<void> | void,
): Promise<void> {
  // A bounded read waits for each partition's recorded end: a log that now ends earlier (deleted and
  // rebuilt, or trimmed) would never get there, so it is refused up front rather than waited on forever.
  const now = await log.bus.endOffsets(log.topic);
  const short = log.endOffsets.flatMap((end, p) =>
    (now[p] ?? 0) < end ? [`${p}: ${now[p] ?? 0} < ${end}`] : [],
  );
  if (short.length > 0)
    throw new BeatLogChangedError(
      `the beat log ends before the offsets this read was fixed to (partition ${short.join(', ')}): it was rebuilt or trimmed`,
      log.topic,
    );
  // Retention deletes a log from its start (Kafka: by age, e.g. the compose broker's 24 h): the beats are
  // then gone, and a partition deleted whole would be waited on forever.
  const start = await log.bus.startOffsets(log.topic);
  const deleted = log.endOffsets.flatMap((end, p) =>
    end > 0 && (start[p] ?? 0) > 0 ? [`${p} starts at ${start[p]}`] : [],
  );
  if (deleted.length > 0)
    throw new BeatLogChangedError(
      `retention has deleted the start of the beat log (partition ${deleted.join(', ')}): rebuild it (delete the topic; training builds an empty log)`,
      log.topic,
    );
  const seen = new Set<string>();
  const source = {
    batches$: readLog(log.bus, { topic: log.topic, groupId, endOffsets: log.endOffsets }),
    stopped: async () => undefined,
  };
  await lastValueFrom(
    consumeDecoded<BeatV1>({
      source,
      codec: getCodecs().Beat,
      deadLetters: log.deadLetters,
      sinks: [log.deadLetterSink],
      validate: log.validate,
      handler: (items) => {
        const beats: BeatV1[] = [];
        for (const { value } of items) {
          const key = beatKey(value);
          if (seen.has(key)) continue;
          if (log.fraction < 1 && hashToUnit(key, log.seed ^ 0x5eed) >= log.fraction) continue;
          seen.add(key);
          beats.push(value);
        }
        return handle(beats);
      },
    }),
    { defaultValue: 0 },
  );
}

/** Examples of the given splits, plus the number of labelled beats per split and class. */
export async function collectExamples(
  log: BeatLog,
  groupId: string,
  encoder: ExampleEncoder,
  collect: ReadonlySet<string>,
): Promise<{
  sets: Map<string, ExampleSet>;
  counts: Map<string, number[]>;
  /** Labelled beats written with an older beat schema than the encoder's feature set needs. */
  tooOldForFeatures: number;
  sources: Set<string>;
}> {
  const sets = new Map<string, ExampleSet>();
  const counts = new Map<string, number[]>();
  const sources = new Set<string>();
  const versionNeeded = beatSchemaVersionNeeded(encoder.featureSet);
  let tooOldForFeatures = 0;
  for (const split of collect) sets.set(split, new ExampleSet(encoder.imageSize, encoder.featureCount));
  await passOverBeatLog(log, groupId, (beats) => {
    for (const beat of beats) {
      sources.add(beat.sourceId);
      const label = encoder.labelOf(beat.aamiClass);
      const split = splitOf(log, beat);
      if (label === undefined || split === null) continue;
      if (beatSchemaVersionOf(beat) < versionNeeded) tooOldForFeatures++;
      const perClass = counts.get(split) ?? new Array<number>(encoder.classes.length).fill(0);
      perClass[label]++;
      counts.set(split, perClass);
      const set = sets.get(split);
      if (set !== undefined) {
        const example = encoder.encode(beat);
        if (example !== undefined) set.add(example, beat.sourceId, beat.rPeakSampleIndex);
      }
    }
  });
  return { sets, counts, tooOldForFeatures, sources };
}
