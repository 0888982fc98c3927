/**
 * The topic interface shared by the Kafka bus and the embedded in-process bus. Pipelines are written
 * against it, so the same wiring runs on either.
 *
 * Delivery contract: a source emits batches of messages from one partition; the next batch of that
 * partition is not fetched, and the batch's offsets are not committed, until the pipeline calls
 * `batch.ack()`. A pipeline acks only after everything it derived from the batch has been flushed to its
 * sinks, so a crash re-delivers (at least once) rather than loses, and nothing is buffered without bound.
 */
import type { Observable } from 'rxjs';

export interface OutgoingMessage {
  /** Partitioning key: the record or patient id, so one source's messages stay in order. */
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
  timestampMs?: number;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit; kept as decimal strings as kafkajs does. */
  offset: string;
  key: string | null;
  value: Buffer;
  timestampMs: number;
  headers: Record<string, string>;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: readonly ConsumedMessage[];
  /** Declare every message of this batch fully processed; its offsets may then be committed. */
  ack(): void;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Broker-side topic settings, e.g. retention.ms. */
  config?: Record<string, string>;
}

export interface Producer {
  /** Send messages to one topic; resolves when the bus has accepted them durably (acks=all on Kafka). */
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /** Where a group with no committed offset starts. */
  fromBeginning: boolean;
  /** Upper bound on messages per emitted batch (the in-process bus); Kafka batches are sized by bytes. */
  maxBatchMessages?: number;
  /** Kafka: most bytes fetched per partition per request (kafkajs default 1 MiB); smaller = smaller batches. */
  maxBytesPerPartition?: number;
  /**
   * Kafka: how long the broker may hold a fetch for data (kafkajs default 5000 ms); also how long kafkajs
   * sleeps when every assigned partition is paused.
   */
  maxWaitMs?: number;
  /**
   * Kafka: how many partitions' batches of one fetch are handed over at the same time (kafkajs
   * `partitionsConsumedConcurrently`, default 1: one after another). Each partition still has at most one
   * unacked batch, so per-partition order and the memory bound hold; a consumer that processes the
   * batches handed over together in one round (consumeDecodedRounds) pays one output flush per fetch
   * instead of one per partition. The in-process bus always hands over one batch at a time.
   */
  concurrentPartitions?: number;
}

export interface Source {
  /** Cold: subscribing joins the group and starts fetching; unsubscribing leaves it. */
  readonly batches$: Observable<ConsumedBatch>;
  /** Resolves once every subscription has ended and left its group (committing what was acked). */
  stopped(): Promise<void>;
}

/**
 * A source straight from a bus, with flow control per partition: a paused partition is not fetched (what
 * was already handed over stays valid) until resumed. Readers that must hold some partitions back while
 * they wait for others (readLog's fixed order) pause those ahead instead of buffering without bound.
 * Pausing a partition before it is assigned takes effect once it is; resuming one that is not paused is a
 * no-op.
 */
export interface BusSource extends Source {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
}

export interface Bus {
  readonly kind: 'kafka' | 'memory';
  /** Create missing topics with the given partition counts; an existing topic with another count is an error. */
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  /** Delete topics and their data (benchmarks and tests clean up after themselves). */
  deleteTopics(topics: readonly string[]): Promise<void>;
  /** The next offset to be written in each partition (index = partition): the log's current end. */
  endOffsets(topic: string): Promise<number[]>;
  /** The oldest offset still held in each partition: above 0 once retention has deleted the log's start. */
  startOffsets(topic: string): Promise<number[]>;
  producer(): Promise<Producer>;
  source(options: ConsumerOptions): BusSource;
  close(): Promise<void>;
}
