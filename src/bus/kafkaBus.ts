/**
 * The bus on Apache Kafka (kafkajs). Producers are idempotent with acks=all, so a retried send is not
 * duplicated in the log. Sources use eachBatch: the handler emits the partition's batch downstream and
 * awaits the pipeline's ack before it resolves the offsets and commits them, which is both the
 * at-least-once guarantee and the backpressure (kafkajs fetches a partition's next batch only after the
 * handler returns). Heartbeats continue while a batch waits, so slow stages do not trigger a rebalance.
 */
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type IHeaders,
  type LogEntry,
} from 'kafkajs';
import { Observable } from 'rxjs';
import { EcgflowError } from '../errors';
import type {
  Bus,
  BusSource,
  ConsumedBatch,
  ConsumedMessage,
  ConsumerOptions,
  Producer,
  TopicSpec,
} from './types';

export interface KafkaBusOptions {
  brokers: readonly string[];
  clientId: string;
  /** Heartbeat period while a batch is being processed downstream. */
  heartbeatIntervalMs: number;
  sessionTimeoutMs: number;
  /** How long ensureTopics waits for new topics to be served by their leaders. */
  topicReadyTimeoutMs: number;
}

const DEFAULTS: Omit<KafkaBusOptions, 'brokers'> = {
  clientId: 'ecgflow',
  heartbeatIntervalMs: 3000,
  sessionTimeoutMs: 30000,
  topicReadyTimeoutMs: 30000,
};

const LEVEL_NAMES: Record<number, string> = { [KafkaLogLevel.ERROR]: 'ERROR', [KafkaLogLevel.WARN]: 'WARN' };

/** kafkajs logs as JSON through console; keep warnings and errors, one line each, on stderr. */
function logCreator() {
  return ({ namespace, level, log }: LogEntry) => {
    if (level > KafkaLogLevel.WARN) return;
    const { message, timestamp, logger, ...extra } = log;
    // Known and accepted: retries are bounded so that a dead broker fails the pipeline (unacked, so
    // redelivered) instead of hanging forever; the idempotent producer still dedupes within a session.
    if (message.startsWith('Limiting retries for the idempotent producer')) return;
    const detail = Object.keys(extra).length > 0 ? ` ${JSON.stringify(extra)}` : '';
    process.stderr.write(`kafka ${LEVEL_NAMES[level] ?? level} ${namespace}: ${message}${detail}\n`);
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map((x) => x.toString()).join(',') : v.toString();
  }
  return out;
}

export class KafkaBus implements Bus {
  readonly kind = 'kafka' as const;
  private readonly kafka: Kafka;
  private readonly options: KafkaBusOptions;
  private readonly producers = new Set<Producer>();

  constructor(options: Partial<KafkaBusOptions> & { brokers: readonly string[] }) {
    this.options = { ...DEFAULTS, ...options };
    this.kafka = new Kafka({
      clientId: this.options.clientId,
      brokers: [...this.options.brokers],
      logLevel: KafkaLogLevel.WARN,
      logCreator,
      retry: { retries: 8, initialRetryTime: 200 },
    });
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.topic));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            replicationFactor: 1,
            configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
        // waitForLeaders only means the controller assigned leaders; the leader may not host the partition
        // yet, and a producer arriving then fails with "does not host this topic-partition". ListOffsets is
        // answered by the hosting leader alone, so poll it until every new partition answers.
        for (const spec of missing) await this.waitUntilServed(admin, spec);
      }
      const present = specs.filter((s) => existing.has(s.topic));
      if (present.length > 0) {
        const { topics } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
        for (const t of topics) {
          const want = present.find((s) => s.topic === t.name)?.partitions;
          if (want !== undefined && t.partitions.length !== want) {
            throw new EcgflowError(
              'TOPIC_CONFIG',
              `topic ${t.name} exists with ${t.partitions.length} partitions, expected ${want}; ` +
                'changing the count would move patients between partitions, so recreate the topic deliberately',
            );
          }
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async waitUntilServed(admin: Admin, spec: TopicSpec): Promise<void> {
    const deadline = Date.now() + this.options.topicReadyTimeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        if ((await admin.fetchTopicOffsets(spec.topic)).length === spec.partitions) return;
      } catch (err) {
        lastError = err;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new EcgflowError(
      'TOPIC_NOT_READY',
      `topic ${spec.topic} was created but its partitions were not served within ${this.options.topicReadyTimeoutMs} ms`,
      { source: spec.topic },
      true,
      lastError,
    );
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length > 0) await admin.deleteTopics({ topics: present });
    } finally {
      await admin.disconnect();
    }
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.topicOffsets(topic, 'high');
  }

  async startOffsets(topic: string): Promise<number[]> {
    return this.topicOffsets(topic, 'low');
  }

  private async topicOffsets(topic: string, which: 'low' | 'high'): Promise<number[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      const out: number[] = [];
      for (const o of offsets) out[o.partition] = Number(o[which]);
      return out;
    } finally {
      await admin.disconnect();
    }
  }

  async producer(): Promise<Producer> {
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const wrapped: Producer = {
      send: async (topic, messages) => {
        await producer.send({
          topic,
          acks: -1,
          messages: messages.map((m) => ({
            key: m.key,
            value: m.value,
            headers: m.headers,
            timestamp: m.timestampMs === undefined ? undefined : String(m.timestampMs),
          })),
        });
      },
      close: async () => {
        this.producers.delete(wrapped);
        await producer.disconnect();
      },
    };
    this.producers.add(wrapped);
    return wrapped;
  }

  source(options: ConsumerOptions): BusSource {
    const disconnects = new Set<Promise<void>>();
    // Paused partitions ("topic/partition"), applied to every running subscription: kafkajs leaves them
    // out of its fetch requests and drops them from fetches already in flight, and resumes from the
    // offset after the last one resolved, so pausing loses nothing.
    const paused = new Map<string, { topic: string; partition: number }>();
    const consumers = new Set<Consumer>();
    // kafkajs refuses pause/resume before run() has set up the group: the set is (re)applied on every
    // group join (the first one, and after kafkajs restarts a crashed consumer with an empty paused set).
    const apply = (consumer: Consumer, op: 'pause' | 'resume', topic: string, partition: number) => {
      try {
        consumer[op]([{ topic, partitions: [partition] }]);
      } catch {
        // not running yet
      }
    };
    const batches$ = new Observable<ConsumedBatch>((subscriber) => {
      const consumer: Consumer = this.kafka.consumer({
        groupId: options.groupId,
        allowAutoTopicCreation: false,
        sessionTimeout: this.options.sessionTimeoutMs,
        heartbeatInterval: this.options.heartbeatIntervalMs,
        maxBytesPerPartition: options.maxBytesPerPartition,
        maxWaitTimeInMs: options.maxWaitMs,
      });
      let stopped = false;
      const pendingAcks = new Set<() => void>();
      consumers.add(consumer);
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const { topic, partition } of paused.values()) apply(consumer, 'pause', topic, partition);
      });

      consumer.on(consumer.events.CRASH, (event) => {
        // kafkajs restarts by itself after retriable crashes; anything else ends the stream with the cause.
        if (!event.payload.restart && !stopped) {
          subscriber.error(
            new EcgflowError(
              'CONSUMER_CRASH',
              `consumer group ${options.groupId} crashed: ${event.payload.error.message}`,
              {},
              false,
              event.payload.error,
            ),
          );
        }
      });

      const start = async (): Promise<void> => {
        await consumer.connect();
        await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning });
        await consumer.run({
          autoCommit: true,
          autoCommitInterval: 1000,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: Math.max(1, Math.floor(options.concurrentPartitions ?? 1)),
          eachBatch: async ({
            batch,
            resolveOffset,
            heartbeat,
            commitOffsetsIfNecessary,
            isRunning,
            isStale,
          }) => {
            if (batch.isEmpty() || stopped) return;
            const messages: ConsumedMessage[] = batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key === null ? null : m.key.toString(),
              value: m.value ?? Buffer.alloc(0),
              timestampMs: Number(m.timestamp),
              headers: headersToStrings(m.headers),
            }));
            const beat = setInterval(() => {
              heartbeat().catch(() => undefined); // a failed heartbeat surfaces as a rebalance, handled by kafkajs
            }, this.options.heartbeatIntervalMs);
            try {
              await new Promise<void>((resolve) => {
                pendingAcks.add(resolve);
                subscriber.next({
                  topic: batch.topic,
                  partition: batch.partition,
                  messages,
                  ack: () => {
                    pendingAcks.delete(resolve);
                    resolve();
                  },
                });
              });
            } finally {
              clearInterval(beat);
            }
            // Unsubscribed or rebalanced while processing: do not commit what may be incomplete.
            if (stopped || !isRunning() || isStale()) return;
            resolveOffset(batch.lastOffset());
            await commitOffsetsIfNecessary();
            await heartbeat();
          },
        });
      };
      start().catch((err: unknown) => {
        if (!stopped) subscriber.error(err);
      });

      return () => {
        stopped = true;
        consumers.delete(consumer);
        for (const release of pendingAcks) release();
        pendingAcks.clear();
        const done: Promise<void> = consumer
          .disconnect()
          .catch(() => undefined)
          .finally(() => disconnects.delete(done));
        disconnects.add(done);
      };
    });
    return {
      batches$,
      stopped: async () => {
        await Promise.all([...disconnects]);
      },
      pause: (topic, partition) => {
        paused.set(`${topic}/${partition}`, { topic, partition });
        for (const consumer of consumers) apply(consumer, 'pause', topic, partition);
      },
      resume: (topic, partition) => {
        paused.delete(`${topic}/${partition}`);
        for (const consumer of consumers) apply(consumer, 'resume', topic, partition);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.producers].map((p) => p.close()));
  }
}
