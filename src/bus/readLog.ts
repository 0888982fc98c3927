/**
 * A bounded read of a topic: every message from the beginning up to end offsets fixed in advance, then
 * completion. The trainer uses it to make one epoch one pass over the beat log as it stood when the run
 * started, so a run's data set is fixed and reproducible even while the log keeps growing.
 *
 * The order is fixed too: the partitions are read in turns of `windowOffsets` offsets (partition 0's
 * offsets [0, W), partition 1's [0, W), ..., then every partition's [W, 2W), ...), whatever batches the
 * bus hands over. A Kafka consumer's batches follow its fetches (bytes per partition per fetch, which
 * partitions a response holds, how the broker's replies race), so reading in arrival order would give
 * another sequence on another run, broker or fetch size, and a seeded shuffle downstream would shuffle a
 * different sequence. With the fixed order the same log gives the same messages in the same order every
 * time, on Kafka and on the in-process bus alike.
 *
 * How: each batch the bus hands over is copied into its partition's buffer and acked at once (a bounded
 * read uses a fresh group and re-reads from the start after a crash, so its commits matter to nobody);
 * a partition whose buffer holds two windows is paused at the bus (not fetched) until the turn comes to
 * it. Holding batches unacked instead would deadlock on Kafka, which fetches a partition again only after
 * the whole previous fetch was processed. Memory: about two windows plus one fetched batch per partition,
 * besides the window handed out.
 */
import { Observable } from 'rxjs';
import type { Bus, ConsumedBatch, ConsumedMessage, ConsumerOptions } from './types';

/** Offsets per partition per turn: small enough to mix partitions, large enough to keep batches whole. */
export const LOG_WINDOW_OFFSETS = 512;

/** Kafka fetch wait (and the sleep while every partition is paused): a resumed partition waits at most this. */
export const READ_LOG_MAX_WAIT_MS = 200;

export interface ReadLogOptions {
  topic: string;
  /** A fresh group per read (e.g. per epoch), so reads never share committed offsets. */
  groupId: string;
  /** End offset (exclusive) per partition; typically `await bus.endOffsets(topic)`. */
  endOffsets: readonly number[];
  /** Offsets read from one partition before the turn passes to the next (default LOG_WINDOW_OFFSETS). */
  windowOffsets?: number;
  /** Fetch sizes handed to the bus; they change how many fetches a read takes, never what it emits. */
  fetch?: Pick<ConsumerOptions, 'maxBytesPerPartition' | 'maxBatchMessages' | 'maxWaitMs'>;
}

/** One partition's messages received but not yet emitted, in offset order. */
interface PartitionBuffer {
  messages: ConsumedMessage[];
  /** Index of the first message not yet emitted (shifting arrays per window would be quadratic). */
  head: number;
  /** The next offset expected from the bus: anything below was received already (a redelivery). */
  nextOffset: number;
  /** Every message below the end offset has been received. */
  complete: boolean;
  paused: boolean;
}

/**
 * Emits the topic's messages below the end offsets as batches of one partition's window each, in the
 * fixed order described above, each offset exactly once (redeliveries are dropped), and completes after
 * the last batch is acked. The next batch is emitted only once the previous one is acked: the caller's
 * ack is the backpressure. Messages at or past the end are not delivered.
 */
export function readLog(bus: Bus, options: ReadLogOptions): Observable<ConsumedBatch> {
  const window = Math.max(1, Math.floor(options.windowOffsets ?? LOG_WINDOW_OFFSETS));
  const highWater = 2 * window;
  return new Observable<ConsumedBatch>((subscriber) => {
    const ends = options.endOffsets;
    const buffers: PartitionBuffer[] = ends.map((end) => ({
      messages: [],
      head: 0,
      nextOffset: 0,
      complete: end <= 0,
      paused: false,
    }));
    const lastEnd = Math.max(0, ...ends);
    if (lastEnd === 0) {
      subscriber.complete();
      return undefined;
    }
    // The turn: window `turnWindow` of partition `turnPartition`.
    let turnWindow = 0;
    let turnPartition = 0;
    let outstanding = false;
    let done = false;

    const source = bus.source({
      // Paused partitions are the normal state of a read ahead of its consumer, and Kafka sleeps the
      // fetch wait when every partition is paused, which a resume does not cut short: keep it short.
      maxWaitMs: READ_LOG_MAX_WAIT_MS,
      ...options.fetch,
      groupId: options.groupId,
      topics: [options.topic],
      fromBeginning: true,
    });
    const pause = (p: number, buffer: PartitionBuffer) => {
      if (buffer.paused) return;
      buffer.paused = true;
      source.pause(options.topic, p);
    };
    const resume = (p: number, buffer: PartitionBuffer) => {
      if (!buffer.paused || buffer.complete) return;
      buffer.paused = false;
      source.resume(options.topic, p);
    };

    /** The turn's messages if its window is fully received (possibly none), else undefined. */
    const takeTurn = (): ConsumedMessage[] | undefined => {
      const p = turnPartition;
      const buffer = buffers[p];
      const windowEnd = Math.min((turnWindow + 1) * window, ends[p]);
      const { messages } = buffer;
      let i = buffer.head;
      while (i < messages.length && Number(messages[i].offset) < windowEnd) i++;
      // Received up to the window's end: a later message is here, or the partition's end was reached.
      if (i === messages.length && !buffer.complete && buffer.nextOffset < windowEnd) return undefined;
      const taken = messages.slice(buffer.head, i);
      buffer.head = i;
      if (buffer.head === messages.length) {
        buffer.messages = [];
        buffer.head = 0;
      } else if (buffer.head >= window) {
        buffer.messages = messages.slice(buffer.head);
        buffer.head = 0;
      }
      if (buffer.messages.length - buffer.head < highWater) resume(p, buffer);
      return taken;
    };

    const advance = () => {
      turnPartition++;
      if (turnPartition === ends.length) {
        turnPartition = 0;
        turnWindow++;
      }
    };

    // Emits turns in order while they are ready; called after every arrival and every ack.
    const pump = () => {
      while (!outstanding && !done && !subscriber.closed) {
        if (turnWindow * window >= lastEnd) {
          done = true;
          subscriber.complete();
          return;
        }
        if (turnWindow * window >= ends[turnPartition]) {
          advance();
          continue;
        }
        const taken = takeTurn();
        if (taken === undefined) return; // wait for this partition's next batch
        const partition = turnPartition;
        advance();
        if (taken.length === 0) continue;
        outstanding = true;
        let acked = false;
        subscriber.next({
          topic: options.topic,
          partition,
          messages: taken,
          ack: () => {
            if (acked) return; // a second ack of this batch must not release the next one
            acked = true;
            outstanding = false;
            // Deferred: ack is often called inside the operator chain still carrying this batch, and
            // emitting or completing synchronously there would re-enter it.
            queueMicrotask(pump);
          },
        });
      }
    };

    const subscription = source.batches$.subscribe({
      next: (batch) => {
        const p = batch.partition;
        const buffer = buffers[p];
        const end = ends[p] ?? 0;
        if (buffer !== undefined && !buffer.complete) {
          for (const m of batch.messages) {
            const offset = Number(m.offset);
            // An offset at or past the last one also completes the partition: the offsets just before the
            // end need not exist (transaction markers, compacted records), so waiting for end - 1 could be
            // waiting forever.
            if (offset >= end - 1) buffer.complete = true;
            if (offset < buffer.nextOffset || offset >= end) continue;
            buffer.messages.push(m);
            buffer.nextOffset = offset + 1;
          }
        }
        batch.ack();
        if (buffer === undefined)
          source.pause(options.topic, p); // added after the end offsets were taken
        else if (buffer.complete || buffer.messages.length - buffer.head >= highWater) pause(p, buffer);
        pump();
      },
      error: (err: unknown) => subscriber.error(err),
    });
    return () => subscription.unsubscribe();
  });
}
