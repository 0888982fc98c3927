/**
 * The lifecycle every finite consumer pipeline shares (sample check, beat count, detection, preprocess):
 * subscribe to the consuming stream, resolve once the run is done (checked after every consumed batch,
 * or whenever the caller asks), resolve as incomplete when the timeout expires or the caller stops it, and
 * reject on the stream's own error. Settling happens once; it unsubscribes, which stops the consumer.
 */
import type { Observable, Subscription } from 'rxjs';

export interface RunUntilDoneOptions<R> {
  /** The consuming stream (typically `consumeDecoded(...)`); subscribed once. */
  stream: Observable<unknown>;
  /** Whether the run has everything it waits for. */
  isDone: () => boolean;
  /** The result, built when the run settles; `complete` is false after a timeout or a stop. */
  result: (complete: boolean) => R;
  /** Give up after this long (resolving incomplete); no limit when undefined. */
  timeoutMs?: number;
}

export interface RunningPipeline<R> {
  done: Promise<R>;
  /** Re-check `isDone` now (after something outside the stream changed what it waits for). */
  check: () => void;
  /** Stop now: resolves with `result(complete)`. */
  settle: (complete: boolean) => void;
}

export function runUntilDone<R>(options: RunUntilDoneOptions<R>): RunningPipeline<R> {
  let settled = false;
  let subscription: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settle: (complete: boolean) => void = () => undefined;
  const done = new Promise<R>((resolve, reject) => {
    const finish = (): boolean => {
      if (settled) return false;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      subscription?.unsubscribe();
      return true;
    };
    settle = (complete: boolean) => {
      if (finish()) resolve(options.result(complete));
    };
    if (options.timeoutMs !== undefined) timer = setTimeout(() => settle(false), options.timeoutMs);
    subscription = options.stream.subscribe({
      next: () => {
        if (options.isDone()) settle(true);
      },
      error: (err: unknown) => {
        if (finish()) reject(err);
      },
    });
    // The stream may have settled the run synchronously, before `subscription` was assigned.
    if (settled) subscription.unsubscribe();
  });
  return {
    done,
    check: () => {
      if (options.isDone()) settle(true);
    },
    settle: (complete) => settle(complete),
  };
}
