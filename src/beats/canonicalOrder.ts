/**
 * A beat log rewritten in a canonical order: within each partition, beats by R-peak sample index, then
 * source, then their offset in the original (records interleaved by position in the recording: by time for
 * records of one sample rate, as MIT-BIH's are; rPeakTimeMs would not do, it follows the replay's clock).
 *
 * Why: the in-process bus rebuilds the beat log from the database in every process, and the records,
 * replayed and preprocessed concurrently, interleave within a partition in whatever order the event loop
 * ran them. Each record's beats and their splits are the same every time, but their order is not, so a
 * seeded shuffle would shuffle another sequence and two runs with the same seed (or a run and its resume)
 * would train on other batches. Sorted, the rebuilt log is the same sequence every time.
 *
 * It holds every message of the log at once, so it is for the in-process bus, where the log is in memory
 * anyway (the copy shares the message buffers); a beat log on Kafka is built once and kept, and needs it
 * not.
 */
import { lastValueFrom, tap } from 'rxjs';
import { readLog } from '../bus/readLog';
import type { Bus, ConsumedMessage } from '../bus/types';
import { getCodecs } from '../schemas/codec';

interface Placed {
  message: ConsumedMessage;
  rPeak: number;
  source: string;
  offset: number;
}

/** Tells copies in one process apart (a group's committed offsets outlive its read on the in-process bus). */
let copies = 0;

/** Messages per send when writing the copy. */
const SEND_MESSAGES = 1000;

function byTimeThenSource(a: Placed, b: Placed): number {
  if (a.rPeak !== b.rPeak) return a.rPeak - b.rPeak;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return a.offset - b.offset;
}

/**
 * Copies topic `from` into `to` (created with the same partition count, empty) in the canonical order and
 * returns the number of messages copied. A message that is not a decodable beat keeps its place after
 * the partition's beats (in offset order): the passes over the log dead-letter it, as they would have.
 */
export async function copyInCanonicalOrder(bus: Bus, from: string, to: string): Promise<number> {
  if (bus.kind !== 'memory')
    throw new RangeError('the canonical copy holds the whole log in memory: in-process bus only');
  const endOffsets = await bus.endOffsets(from);
  await bus.ensureTopics([{ topic: to, partitions: endOffsets.length }]);
  if ((await bus.endOffsets(to)).some((n) => n > 0)) throw new RangeError(`topic ${to} is not empty`);
  const codec = getCodecs().Beat;
  const partitions: Placed[][] = endOffsets.map(() => []);
  await lastValueFrom(
    readLog(bus, {
      topic: from,
      groupId: `${from}-canonical-copy-${Date.now()}-${copies++}`,
      endOffsets,
    }).pipe(
      tap((batch) => {
        for (const message of batch.messages) {
          let rPeak = Number.POSITIVE_INFINITY;
          let source = '\uffff';
          try {
            const beat = codec.decode(message.value);
            rPeak = beat.rPeakSampleIndex;
            source = beat.sourceId;
          } catch {
            // not a beat: after the partition's beats, in offset order
          }
          partitions[batch.partition].push({ message, rPeak, source, offset: Number(message.offset) });
        }
        batch.ack();
      }),
    ),
    { defaultValue: undefined },
  );
  const producer = await bus.producer();
  let copied = 0;
  try {
    for (const placed of partitions) {
      placed.sort(byTimeThenSource);
      for (let i = 0; i < placed.length; i += SEND_MESSAGES) {
        const chunk = placed.slice(i, i + SEND_MESSAGES).map(({ message }) => ({
          key: message.key ?? '',
          value: message.value,
          headers: message.headers,
          timestampMs: message.timestampMs,
        }));
        await producer.send(to, chunk);
        copied += chunk.length;
      }
    }
  } finally {
    await producer.close();
  }
  return copied;
}
