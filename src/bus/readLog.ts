/**
 * A bounded read of a topic: every message from the beginning up to end offsets fixed in advance, then
 * completion. The trainer uses it to make one epoch one pass over the beat log as it stood when the run
 * started, so a run's data set is fixed and reproducible even while the log keeps growing.
 */
import { Observable } from 'rxjs';
import type { Bus, ConsumedBatch } from './types';

export interface ReadLogOptions {
  topic: string;
  /** A fresh group per read (e.g. per epoch), so reads never share committed offsets. */
  groupId: string;
  /** End offset (exclusive) per partition; typically `await bus.endOffsets(topic)`. */
  endOffsets: readonly number[];
}

/**
 * Emits the topic's batches (callers ack each one, as with any source) trimmed to the end offsets and
 * completes once every partition has reached its end. Messages past the end are not delivered.
 */
export function readLog(bus: Bus, options: ReadLogOptions): Observable<ConsumedBatch> {
  return new Observable<ConsumedBatch>((subscriber) => {
    const remaining = new Set<number>();
    options.endOffsets.forEach((end, p) => {
      if (end > 0) remaining.add(p);
    });
    if (remaining.size === 0) {
      subscriber.complete();
      return undefined;
    }
    const source = bus.source({ groupId: options.groupId, topics: [options.topic], fromBeginning: true });
    const subscription = source.batches$.subscribe({
      next: (batch) => {
        const end = options.endOffsets[batch.partition] ?? 0;
        const messages = batch.messages.filter((m) => Number(m.offset) < end);
        const reachedEnd = batch.messages.some((m) => Number(m.offset) >= end - 1);
        const finish = () => {
          if (reachedEnd) {
            remaining.delete(batch.partition);
            // Deferred: ack is often called inside the operator chain still carrying this batch, and
            // completing synchronously there would cut off the batch before it reaches the end of the chain.
            if (remaining.size === 0) queueMicrotask(() => subscriber.complete());
          }
        };
        if (messages.length === 0) {
          batch.ack();
          finish();
          return;
        }
        subscriber.next({
          topic: batch.topic,
          partition: batch.partition,
          messages,
          ack: () => {
            batch.ack();
            finish();
          },
        });
      },
      error: (err: unknown) => subscriber.error(err),
    });
    return () => subscription.unsubscribe();
  });
}
