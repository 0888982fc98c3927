/**
 * Running a stateful RxJS operator chain inside a consumer's batch handler. Operators such as resampling,
 * detection and segmentation keep per-source state from one message to the next, so the chain must live
 * as long as the consumer, not per batch. `OperatorAdapter` keeps one long-lived input Subject piped
 * through the chain; `process(items)` pushes a batch's items and returns, synchronously, every output
 * they produced. The pipeline then writes those outputs to its sink, flushes, and only then acks the
 * batch (src/bus/consume.ts), so offsets are committed only for input whose outputs are durable.
 *
 * Requirements: the chain must be synchronous (no schedulers, timers or promises inside) - outputs that
 * arrived later would escape their batch. A failure inside the chain is rethrown from `process` (the
 * batch is then not acked and will be redelivered) and the adapter is dead afterwards.
 *
 * Delivery: at least once for outputs of acked input; the state itself is not checkpointed. After a
 * crash, the batch in flight is redelivered, so outputs that had already been written are written again
 * (consumers dedupe on the key: source id + R-peak sample index); and the state built from batches
 * acked before the crash (at most one operator look-ahead per source, e.g. one 10 s window plus the
 * detector's and filters' delays) is lost, so beats of that span may be missing after the restart. The
 * restarted stream shows as a `late-join` event for each source.
 */
import { Subject, type OperatorFunction, type Subscription } from 'rxjs';

export class OperatorAdapter<I, O> {
  private readonly input = new Subject<I>();
  private outputs: O[] = [];
  private failure: { error: unknown } | undefined;
  private completed = false;
  private readonly subscription: Subscription;

  constructor(chain: OperatorFunction<I, O>) {
    this.subscription = this.input.pipe(chain).subscribe({
      next: (o) => this.outputs.push(o),
      error: (error: unknown) => {
        this.failure = { error };
      },
      complete: () => {
        this.completed = true;
      },
    });
  }

  /** Push `items` through the chain; returns the outputs they produced. */
  process(items: Iterable<I>): O[] {
    this.check();
    for (const item of items) {
      this.input.next(item);
      this.check();
    }
    return this.take();
  }

  /** Complete the input (operators flush what they hold) and return the last outputs. */
  end(): O[] {
    this.check();
    this.input.complete();
    this.check();
    this.subscription.unsubscribe();
    return this.take();
  }

  get ended(): boolean {
    return this.completed;
  }

  private take(): O[] {
    const out = this.outputs;
    this.outputs = [];
    return out;
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }
}
