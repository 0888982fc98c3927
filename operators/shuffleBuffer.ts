/**
 * `shuffleBuffer`: a seeded, bounded shuffle for training streams (as tf.data's `shuffle`): the first
 * `capacity` items fill a buffer; from then on every incoming item replaces a uniformly chosen buffered
 * item, which is emitted; at completion the remaining items are emitted in a seeded random order. Same
 * seed and same input order give the same output order. Memory is bounded by `capacity` items, and each
 * item is emitted synchronously within the `next` that displaced it, so a consumer that paces the source
 * (backpressure through acks or `concatMap`) paces this operator too. A larger buffer mixes better; with
 * capacity >= the stream's length the output is a uniform random permutation.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { mulberry32 } from '../src/dsp/random';

/**
 * Shuffle through a bounded buffer.
 *
 * @example
 * trainBeats$.pipe(shuffleBuffer(10_000, 42), batchByCountOrTime(64, 1000))
 */
export function shuffleBuffer<T>(capacity: number, seed: number): OperatorFunction<T, T> {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  return (source) =>
    new Observable<T>((subscriber) => {
      const random = mulberry32(seed);
      const buffer: T[] = [];
      const subscription = source.subscribe({
        next: (item) => {
          if (buffer.length < capacity) {
            buffer.push(item);
            return;
          }
          const k = Math.floor(random() * capacity);
          const out = buffer[k];
          buffer[k] = item;
          subscriber.next(out);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          // Fisher-Yates over what is left.
          for (let i = buffer.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [buffer[i], buffer[j]] = [buffer[j], buffer[i]];
          }
          for (const item of buffer) subscriber.next(item);
          buffer.length = 0;
          subscriber.complete();
        },
      });
      return () => subscription.unsubscribe();
    });
}
