/**
 * A bounded async FIFO between one producer and one consumer running concurrently on the event loop: the
 * producer's `put` waits while `capacity` items are queued (backpressure), the consumer's `take` waits
 * while none is. The trainer uses it to prepare the next training batches (read from the log, decoded,
 * turned into spectrograms, shuffled) while the current ones train, without letting the reading run
 * ahead by more than `capacity` batches.
 *
 * Either side can end the exchange: `close()` after the last item (the consumer drains what is queued,
 * then `take` gives undefined); `fail(err)` from either side rejects every waiting and later `put` and
 * `take` with `err`, so neither side is left waiting for the other.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private closed = false;
  private failure: { err: unknown } | undefined;
  private waitingTake: { resolve: (item: T | undefined) => void; reject: (err: unknown) => void } | undefined;
  private waitingPut: { resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.items.length;
  }

  /** Queue `item`, waiting while the queue is full. One producer: call it again only once it resolved. */
  async put(item: T): Promise<void> {
    this.throwIfFailed();
    if (this.closed) throw new Error('put after close');
    while (this.items.length >= this.capacity) {
      await new Promise<void>((resolve, reject) => {
        this.waitingPut = { resolve, reject };
      });
      this.throwIfFailed();
    }
    const taker = this.waitingTake;
    if (taker !== undefined) {
      this.waitingTake = undefined;
      taker.resolve(item);
      return;
    }
    this.items.push(item);
  }

  /** The next item, waiting while none is queued; undefined once closed and drained. One consumer. */
  async take(): Promise<T | undefined> {
    this.throwIfFailed();
    if (this.items.length > 0) {
      const item = this.items.shift() as T;
      const putter = this.waitingPut;
      this.waitingPut = undefined;
      putter?.resolve();
      return item;
    }
    if (this.closed) return undefined;
    return new Promise<T | undefined>((resolve, reject) => {
      this.waitingTake = { resolve, reject };
    });
  }

  /** No more items: the consumer drains the queue, then `take` gives undefined. */
  close(): void {
    this.closed = true;
    const taker = this.waitingTake;
    this.waitingTake = undefined;
    taker?.resolve(undefined);
  }

  /**
   * Throws the failure, if any. For either side to check between steps of its own work: a side busy
   * elsewhere (reading a stretch of the log with nothing to put) learns of the other's failure here.
   */
  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.err;
  }

  /** End the exchange with an error: waiting and later calls on either side reject with `err`. */
  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { err };
    this.items.length = 0;
    const taker = this.waitingTake;
    const putter = this.waitingPut;
    this.waitingTake = undefined;
    this.waitingPut = undefined;
    taker?.reject(err);
    putter?.reject(err);
  }
}
