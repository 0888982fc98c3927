/**
 * The consuming half of every pipeline: for each batch from a source, decode it (bad messages to the
 * dead-letter topic), hand the decoded messages to the pipeline's handler, wait until the handler's
 * outputs and the dead letters are flushed, and only then ack the batch so its offsets get committed.
 * Batches are processed one at a time (concatMap), which is what bounds memory.
 *
 * `consumeDecodedRounds` is the variant for sources that hand over several partitions' batches at once
 * (Kafka with `concurrentPartitions`): the batches that are waiting when a round starts are processed
 * together, with one handler call and one flush, and then all acked.
 */
import { concatMap, Observable } from 'rxjs';
import type { Codec } from '../schemas/codec';
import { decodeBatch, type DeadLetterWriter, type DecodedMessage } from './deadLetter';
import type { BatchingSink } from './sink';
import type { ConsumedBatch, Source } from './types';

export type DecodedBatchHandler<T> = (
  items: DecodedMessage<T>[],
  batch: ConsumedBatch,
) => Promise<void> | void;

export interface ConsumeOptions<T> {
  source: Source;
  codec: Codec<T>;
  deadLetters: DeadLetterWriter;
  /** Sinks the handler writes to; all are flushed before a batch is acked. */
  sinks: readonly BatchingSink[];
  handler: DecodedBatchHandler<T>;
  /** Why a decoded message cannot be used (it is then dead-lettered and left out), or undefined. */
  validate?: (value: T) => string | undefined;
}

/** Cold: nothing is consumed until subscribed. Emits the size of each batch once it is acked. */
export function consumeDecoded<T>(options: ConsumeOptions<T>): Observable<number> {
  return options.source.batches$.pipe(
    concatMap(async (batch) => {
      const decoded = await decodeBatch(batch.messages, options.codec, options.deadLetters, options.validate);
      await options.handler(decoded, batch);
      await Promise.all(options.sinks.map((s) => s.flush()));
      batch.ack();
      return batch.messages.length;
    }),
  );
}

/**
 * The `concurrentPartitions` to give a source consumed in rounds: more partitions than any topic here has,
 * so that a whole Kafka fetch is one round.
 */
export const DEFAULT_CONCURRENT_PARTITIONS = 64;

/** One round: the decoded messages of every batch in it, batch after batch, each batch in offset order. */
export type DecodedRoundHandler<T> = (
  items: DecodedMessage<T>[],
  batches: readonly ConsumedBatch[],
) => Promise<void> | void;

export interface ConsumeRoundsOptions<T> extends Omit<ConsumeOptions<T>, 'handler'> {
  handler: DecodedRoundHandler<T>;
  /**
   * How the start of a round is deferred after a batch arrives, so that the batches a source hands over
   * together (one fetch's partitions) all join it. Default: setImmediate (after pending I/O callbacks and
   * microtasks). Tests pass their own.
   */
  defer?: (start: () => void) => void;
}

/**
 * Cold: nothing is consumed until subscribed. Like {@link consumeDecoded}, except that every batch
 * waiting when a round starts joins that round: the batches are decoded (bad messages dead-lettered),
 * handed to the handler in one call, the sinks flushed once, and then every batch of the round is acked.
 * Batches arriving during a round wait for the next one. Emits the number of messages of each round
 * once it is acked.
 *
 * Why: kafkajs fetches all of a consumer's partitions in one request and fetches again only after every
 * batch of the response is done. Processed one partition at a time, each batch pays its own output flush
 * (a produce round trip) and its own small inference micro-batch, and a chunk waits for all the
 * partitions before it; in one round the whole fetch costs one flush, and micro-batches fill across
 * partitions. The guarantees are those of consumeDecoded: a batch is acked only after everything derived
 * from it is flushed; a source has at most one unacked batch per partition, so a round holds at most one
 * batch per assigned partition (memory stays bounded) and each partition's batches are still processed in
 * order.
 *
 * @example
 *   consumeDecodedRounds({ source, codec, deadLetters, sinks: [out], handler: (items) => engine.handle(items) })
 *     .subscribe({ next: (n) => progress(n), error: fail });
 */
export function consumeDecodedRounds<T>(options: ConsumeRoundsOptions<T>): Observable<number> {
  const defer = options.defer ?? ((start: () => void) => setImmediate(start));
  return new Observable<number>((subscriber) => {
    const waiting: ConsumedBatch[] = [];
    let running = false;
    let sourceDone = false;

    const round = async (): Promise<number> => {
      const batches = waiting.splice(0, waiting.length);
      const items: DecodedMessage<T>[] = [];
      for (const batch of batches) {
        const decoded = await decodeBatch(
          batch.messages,
          options.codec,
          options.deadLetters,
          options.validate,
        );
        for (const item of decoded) items.push(item);
      }
      await options.handler(items, batches);
      await Promise.all(options.sinks.map((s) => s.flush()));
      let count = 0;
      for (const batch of batches) {
        batch.ack();
        count += batch.messages.length;
      }
      return count;
    };
    const completeIfDone = () => {
      if (sourceDone && !running && waiting.length === 0) subscriber.complete();
    };
    const schedule = () => {
      if (running || waiting.length === 0 || subscriber.closed) return;
      running = true;
      defer(() => {
        round().then(
          (count) => {
            running = false;
            if (subscriber.closed) return;
            subscriber.next(count);
            schedule();
            completeIfDone();
          },
          (err: unknown) => {
            running = false;
            subscriber.error(err);
          },
        );
      });
    };
    const subscription = options.source.batches$.subscribe({
      next: (batch) => {
        waiting.push(batch);
        schedule();
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        sourceDone = true;
        completeIfDone();
      },
    });
    return () => subscription.unsubscribe();
  });
}
