/**
 * A batching sink over a bus producer, shaped like Kafka's own producer buffer: `write` queues a message
 * and returns at once while the buffer has room, and waits (backpressure) when it is full; batches are
 * sent one at a time per sink so that per-key order survives retries; `flush` resolves when everything
 * written so far is acknowledged, and rejects with the first send failure, so a caller that acks its
 * source only after `flush` never commits an offset whose output was lost.
 *
 * A failure is sticky: nothing is sent after it, and `write` and `flush` reject. A caller that must go on
 * after a failed send (the bedside gateway: the broker may come back) writes with `publish`, which
 * resolves or rejects for that one message, and calls `resume()` after a failure: what was queued is
 * dropped (every `publish` among it has been rejected) and the sink accepts messages again.
 */
import type { OutgoingMessage, Producer } from './types';

export interface SinkOptions {
  /** Most messages in one send request. */
  maxBatchMessages: number;
  /**
   * Most bytes (values, keys and headers) in one send request. Kept well under the broker's
   * message.max.bytes (1 MiB by default), which one partition's record batch may not exceed.
   */
  maxBatchBytes: number;
  /** How long a lone message may wait for company before it is sent. */
  lingerMs: number;
  /** Bound on queued plus in-flight value bytes; `write` waits above it. */
  maxBufferedBytes: number;
}

export const DEFAULT_SINK_OPTIONS: SinkOptions = {
  maxBatchMessages: 2000,
  maxBatchBytes: 512 * 1024,
  lingerMs: 2,
  maxBufferedBytes: 16_000_000,
};

/** Per-record framing in a Kafka record batch (lengths, varints, offsets, attributes), roughly. */
export const RECORD_OVERHEAD_BYTES = 24;

interface Queued {
  topic: string;
  message: OutgoingMessage;
  bytes: number;
  /** Set by `publish`: settled when this message is acknowledged or lost. */
  settle?: { resolve: () => void; reject: (err: unknown) => void };
}

export interface SinkStats {
  messages: number;
  bytes: number;
  sends: number;
}

export class BatchingSink {
  private readonly options: SinkOptions;
  private queue: Queued[] = [];
  private bufferedBytes = 0;
  private sending: Promise<void> | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private failure: unknown;
  private spaceWaiters: (() => void)[] = [];
  private drainWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  readonly stats: SinkStats = { messages: 0, bytes: 0, sends: 0 };

  constructor(
    private readonly producer: Producer,
    options: Partial<SinkOptions> = {},
  ) {
    this.options = { ...DEFAULT_SINK_OPTIONS, ...options };
  }

  /** Queue one message; waits only while the buffer is over its bound. */
  async write(topic: string, message: OutgoingMessage): Promise<void> {
    await this.enqueue(topic, message, undefined);
  }

  /**
   * Queue one message and resolve once it is acknowledged by the bus (sent without waiting for the linger
   * to end); rejects when it is lost: its send failed, or the sink had failed already.
   */
  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    let settle: Queued['settle'];
    const acknowledged = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    acknowledged.catch(() => undefined); // observed below; never an unhandled rejection in between
    await this.enqueue(topic, message, settle);
    this.kick();
    await acknowledged;
  }

  /**
   * After a failed send: drop everything queued (each `publish` among it is rejected, and so is every
   * `flush` still waiting: plain `write`s among it are lost) and accept messages again. A no-op when
   * nothing failed. Nothing is in flight after a failure (the pump stops at the failed send).
   */
  resume(): void {
    const failure = this.failure;
    if (failure === undefined) return;
    for (const q of this.queue) q.settle?.reject(failure);
    this.queue = [];
    this.bufferedBytes = 0;
    const drains = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of drains) w.reject(failure);
    this.failure = undefined;
  }

  private async enqueue(topic: string, message: OutgoingMessage, settle: Queued['settle']): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    while (this.bufferedBytes >= this.options.maxBufferedBytes) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.failure !== undefined) throw this.failure;
    }
    let bytes = message.value.length + Buffer.byteLength(message.key) + RECORD_OVERHEAD_BYTES;
    for (const [k, v] of Object.entries(message.headers ?? {})) bytes += k.length + v.length;
    this.queue.push({ topic, message, bytes, settle });
    this.bufferedBytes += bytes;
    this.schedule();
  }

  /** Queue many messages to one topic. */
  async writeAll(topic: string, messages: Iterable<OutgoingMessage>): Promise<void> {
    for (const m of messages) await this.write(topic, m);
  }

  /** Resolves when the buffer is empty and no send is in flight, so at least every message written before
   * the call is acknowledged; rejects with the first send failure. */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.queue.length === 0 && this.sending === undefined) return Promise.resolve();
    this.kick();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  private schedule(): void {
    if (this.sending !== undefined) return; // the running pump picks the message up
    const fullBatch = this.queue.length >= this.options.maxBatchMessages;
    if (fullBatch || this.options.lingerMs <= 0) {
      this.kick();
    } else if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => this.kick(), this.options.lingerMs);
    }
  }

  private kick(): void {
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.sending === undefined && this.queue.length > 0) {
      this.sending = this.pump().finally(() => {
        this.sending = undefined;
        if (this.queue.length > 0 && this.failure === undefined) this.kick();
        else this.settleDrainWaiters();
      });
    }
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && this.failure === undefined) {
      // One request carries the longest prefix of one topic's messages within the batch bounds.
      const topic = this.queue[0].topic;
      let count = 0;
      let bytes = 0;
      while (
        count < this.queue.length &&
        this.queue[count].topic === topic &&
        count < this.options.maxBatchMessages &&
        (count === 0 || bytes + this.queue[count].bytes <= this.options.maxBatchBytes)
      ) {
        bytes += this.queue[count].bytes;
        count++;
      }
      const batch = this.queue.splice(0, count);
      try {
        await this.producer.send(
          topic,
          batch.map((q) => q.message),
        );
      } catch (err) {
        this.failure = err;
        this.queue.unshift(...batch); // kept for inspection; nothing after a failure is sent
        for (const q of this.queue) q.settle?.reject(err);
        break;
      }
      for (const q of batch) q.settle?.resolve();
      this.stats.sends++;
      this.stats.messages += count;
      this.stats.bytes += bytes;
      this.bufferedBytes -= bytes;
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    }
    if (this.failure !== undefined) {
      const waiters = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const w of waiters) w();
    }
  }

  private settleDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) {
      if (this.failure !== undefined) w.reject(this.failure);
      else w.resolve();
    }
  }

  /** Flush and release the producer. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.producer.close();
    }
  }
}
