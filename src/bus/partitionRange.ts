/**
 * A bounded read of one Kafka partition, back in time: every message of `partition` from the first one
 * at or after `fromTimestampMs` (at most `maxMessages` before `toOffset`) up to `toOffset` (exclusive).
 * Stateful consumers use it to rebuild per-key state that a previous owner of the partition held but
 * never wrote anywhere (serve's signal look-ahead: src/serving/sampleHistory.ts).
 *
 * How: a fresh consumer group is positioned with the admin API (offset by timestamp, then setOffsets on
 * the one partition; the topic's other partitions start at their end and are ignored), read through the
 * ordinary bus source until the range is complete, and deleted afterwards. It does not touch any other
 * group's offsets. Kafka only: the embedded bus has no history to rewind to beyond what a group commits.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Bus, ConsumedMessage } from './types';

export interface PartitionRangeRequest {
  topic: string;
  partition: number;
  /** Start at the first message whose timestamp is at or after this (epoch ms). */
  fromTimestampMs: number;
  /** End before this offset. */
  toOffset: number;
  /** Read at most this many messages (the range start moves forward to respect it). */
  maxMessages: number;
  /** Give up (returning what was read) after this long. */
  timeoutMs: number;
}

export interface PartitionRangeResult {
  messages: ConsumedMessage[];
  fromOffset: number;
  /** False when the read timed out before reaching toOffset. */
  complete: boolean;
}

export class KafkaPartitionReader {
  private readonly kafka: Kafka;
  private reads = 0;

  constructor(
    private readonly bus: Bus,
    brokers: readonly string[],
    private readonly clientId = 'ecgflow-range',
  ) {
    this.kafka = new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING });
  }

  async read(request: PartitionRangeRequest): Promise<PartitionRangeResult> {
    const admin = this.kafka.admin();
    await admin.connect();
    const groupId = `${this.clientId}-${process.pid}-${Date.now()}-${this.reads++}`;
    try {
      const byTime = await admin.fetchTopicOffsetsByTimestamp(
        request.topic,
        Math.max(0, Math.floor(request.fromTimestampMs)),
      );
      const found = Number(byTime.find((o) => o.partition === request.partition)?.offset ?? request.toOffset);
      const fromOffset = Math.max(
        0,
        Math.min(Number.isFinite(found) && found >= 0 ? found : request.toOffset, request.toOffset),
        request.toOffset - request.maxMessages,
      );
      if (fromOffset >= request.toOffset) return { messages: [], fromOffset, complete: true };
      await admin.setOffsets({
        groupId,
        topic: request.topic,
        partitions: [{ partition: request.partition, offset: String(fromOffset) }],
      });
      const messages: ConsumedMessage[] = [];
      const source = this.bus.source({ groupId, topics: [request.topic], fromBeginning: false });
      const complete = await new Promise<boolean>((resolve, reject) => {
        let done = false;
        const finish = (ok: boolean) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve(ok);
        };
        const timer = setTimeout(() => finish(false), request.timeoutMs);
        const subscription = source.batches$.subscribe({
          next: (batch) => {
            let reached = false;
            if (batch.partition === request.partition) {
              for (const m of batch.messages) {
                const offset = Number(m.offset);
                if (offset >= request.toOffset) reached = true;
                else if (offset >= fromOffset) messages.push(m);
                if (offset >= request.toOffset - 1) reached = true;
              }
            }
            batch.ack();
            if (reached) queueMicrotask(() => finish(true));
          },
          error: (err: unknown) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            reject(err);
          },
        });
      });
      await source.stopped();
      return { messages, fromOffset, complete };
    } finally {
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    }
  }
}

/**
 * Position a consumer group at the current end of every partition of `topic` (it must have no running
 * members), so that a consumer joining it later reads exactly what is published from now on, however
 * long its join takes (a group that starts "at the latest offset" only learns where that is once joined).
 */
export async function positionGroupAtEnd(
  brokers: readonly string[],
  groupId: string,
  topic: string,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'ecgflow-position',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: o.high })),
    });
  } finally {
    await admin.disconnect();
  }
}
