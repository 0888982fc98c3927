/**
 * The consuming half of every pipeline: for each batch from a source, decode it (bad messages to the
 * dead-letter topic), hand the decoded messages to the pipeline's handler, wait until the handler's
 * outputs and the dead letters are flushed, and only then ack the batch so its offsets get committed.
 * Batches are processed one at a time (concatMap), which is what bounds memory.
 */
import { concatMap, type Observable } from 'rxjs';
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
}

/** Cold: nothing is consumed until subscribed. Emits the size of each batch once it is acked. */
export function consumeDecoded<T>(options: ConsumeOptions<T>): Observable<number> {
  return options.source.batches$.pipe(
    concatMap(async (batch) => {
      const decoded = await decodeBatch(batch.messages, options.codec, options.deadLetters);
      await options.handler(decoded, batch);
      await Promise.all(options.sinks.map((s) => s.flush()));
      batch.ack();
      return batch.messages.length;
    }),
  );
}
