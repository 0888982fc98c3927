/**
 * `batchByCountOrTime`: items -> arrays of at most `maxCount` items, emitted when the batch is full or
 * `maxWaitMs` after its first item arrived, whichever comes first (and at completion, if not empty).
 * Empty batches are never emitted. Memory is bounded by `maxCount` items: a batch is handed downstream
 * synchronously as soon as it is full, so when the source is paced by its consumer (the bus's ack-based
 * flow control, or `concatMap` over an async sink) nothing accumulates here.
 */
import {
  Observable,
  asyncScheduler,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';

/**
 * Batch by count and by time.
 *
 * @example
 * beats$.pipe(batchByCountOrTime(256, 50)) // up to 256 beats, or what came within 50 ms
 */
export function batchByCountOrTime<T>(
  maxCount: number,
  maxWaitMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<T, T[]> {
  if (!Number.isInteger(maxCount) || maxCount < 1)
    throw new RangeError(`maxCount must be a positive integer, got ${maxCount}`);
  if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${maxWaitMs}`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;
      const emit = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (batch.length === 0) return;
        const full = batch;
        batch = [];
        subscriber.next(full);
      };
      const subscription = source.subscribe({
        next: (item) => {
          batch.push(item);
          if (batch.length >= maxCount) emit();
          else if (batch.length === 1) timer = scheduler.schedule(emit, maxWaitMs);
        },
        error: (err: unknown) => {
          timer?.unsubscribe();
          subscriber.error(err);
        },
        complete: () => {
          emit();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        subscription.unsubscribe();
      };
    });
}
