/**
 * The embedded in-process bus: topics with partitions, consumer groups with committed offsets and
 * partition assignment, the same batch/ack contract as the Kafka bus. It lets the main job run with no
 * infrastructure. It is not a test double for Kafka: integration tests use the real broker.
 *
 * Memory is bounded: each topic keeps at most `retentionBytes`; older messages are dropped once every
 * group that reads the topic has committed past them, and a producer that would exceed the bound waits
 * for consumers to catch up (backpressure end to end, where a broker would instead keep the data on disk).
 */
import { Observable } from 'rxjs';
import { EcgflowError } from '../errors';
import { partitionForKey } from './partitioner';
import type {
  Bus,
  BusSource,
  ConsumedBatch,
  ConsumedMessage,
  ConsumerOptions,
  OutgoingMessage,
  Producer,
  TopicSpec,
} from './types';

export interface MemoryBusOptions {
  retentionBytes: number;
  maxBatchMessages: number;
}

const DEFAULTS: MemoryBusOptions = { retentionBytes: 256 * 1024 * 1024, maxBatchMessages: 500 };

interface Partition {
  /** messages[i] has offset base + i */
  base: number;
  messages: ConsumedMessage[];
}

interface Topic {
  name: string;
  partitions: Partition[];
  bytes: number;
}

interface Member {
  id: number;
  assigned: number[];
  wake: () => void;
}

interface Group {
  id: string;
  topic: string;
  committed: number[];
  members: Member[];
}

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  private readonly options: MemoryBusOptions;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private dataWaiters: (() => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  private nextMemberId = 1;
  private closed = false;

  constructor(options: Partial<MemoryBusOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new EcgflowError(
          'TOPIC_CONFIG',
          `topic ${spec.topic}: partitions must be a positive integer, got ${spec.partitions}`,
        );
      }
      const existing = this.topics.get(spec.topic);
      if (existing !== undefined) {
        if (existing.partitions.length !== spec.partitions) {
          throw new EcgflowError(
            'TOPIC_CONFIG',
            `topic ${spec.topic} exists with ${existing.partitions.length} partitions, expected ${spec.partitions}`,
          );
        }
        continue;
      }
      this.topics.set(spec.topic, {
        name: spec.topic,
        partitions: Array.from({ length: spec.partitions }, () => ({ base: 0, messages: [] })),
        bytes: 0,
      });
    }
  }

  private topic(name: string): Topic {
    const t = this.topics.get(name);
    if (t === undefined)
      throw new EcgflowError('UNKNOWN_TOPIC', `topic ${name} does not exist (create it with ensureTopics)`);
    return t;
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const t of topics) {
      this.topics.delete(t);
      for (const [key, group] of this.groups) if (group.topic === t) this.groups.delete(key);
    }
  }

  async endOffsets(topic: string): Promise<number[]> {
    return this.topic(topic).partitions.map((p) => p.base + p.messages.length);
  }

  async startOffsets(topic: string): Promise<number[]> {
    return this.topic(topic).partitions.map((p) => p.base);
  }

  async producer(): Promise<Producer> {
    return {
      send: (topic, messages) => this.append(topic, messages),
      close: async () => undefined,
    };
  }

  private async append(topicName: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new EcgflowError('BUS_CLOSED', 'the in-process bus is closed');
    const topic = this.topic(topicName);
    const incoming = messages.reduce((n, m) => n + m.value.length, 0);
    while (topic.bytes + incoming > this.options.retentionBytes && topic.bytes > 0) {
      if (!this.trim(topic)) await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.closed) throw new EcgflowError('BUS_CLOSED', 'the in-process bus is closed');
    }
    const now = Date.now();
    for (const m of messages) {
      const p = partitionForKey(topicName, m.key, topic.partitions.length);
      const partition = topic.partitions[p];
      partition.messages.push({
        topic: topicName,
        partition: p,
        offset: String(partition.base + partition.messages.length),
        key: m.key,
        value: m.value,
        timestampMs: m.timestampMs ?? now,
        headers: m.headers ?? {},
      });
      topic.bytes += m.value.length;
    }
    this.wakeConsumers();
  }

  /** Drop messages every group reading the topic has committed; true if anything was freed. */
  private trim(topic: Topic): boolean {
    const groups = [...this.groups.values()].filter((g) => g.topic === topic.name);
    let freed = false;
    topic.partitions.forEach((partition, p) => {
      const safe =
        groups.length === 0
          ? partition.base + partition.messages.length
          : Math.min(...groups.map((g) => g.committed[p]));
      const drop = Math.max(0, safe - partition.base);
      if (drop > 0) {
        for (const m of partition.messages.splice(0, drop)) topic.bytes -= m.value.length;
        partition.base += drop;
        freed = true;
      }
    });
    return freed;
  }

  private wakeConsumers(): void {
    const waiters = this.dataWaiters;
    this.dataWaiters = [];
    for (const w of waiters) w();
  }

  private wakeProducers(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
  }

  source(options: ConsumerOptions): BusSource {
    const maxBatch = options.maxBatchMessages ?? this.options.maxBatchMessages;
    // Paused partitions ("topic/partition") are skipped by every subscription's loop until resumed.
    const paused = new Set<string>();
    const wakers = new Set<() => void>();
    const batches$ = new Observable<ConsumedBatch>((subscriber) => {
      const topicNames = [...options.topics];
      const joined: { group: Group; member: Member }[] = [];
      let running = true;
      let wakeSelf: (() => void) | undefined;
      const wake = () => wakeSelf?.();
      wakers.add(wake);
      try {
        for (const name of topicNames) {
          const topic = this.topic(name);
          const group = this.joinGroup(`${options.groupId}\u0000${name}`, topic, options.fromBeginning);
          const member: Member = { id: this.nextMemberId++, assigned: [], wake: () => wakeSelf?.() };
          group.members.push(member);
          this.rebalance(group, topic);
          joined.push({ group, member });
        }
      } catch (err) {
        subscriber.error(err);
        return;
      }

      // Positions are local to this member; they restart from the committed offset after a rebalance.
      const positions = new Map<string, number>();
      const loop = async (): Promise<void> => {
        while (running) {
          let emitted = false;
          for (const { group, member } of joined) {
            const topic = this.topic(group.topic);
            for (let p = 0; p < topic.partitions.length; p++) {
              const posKey = `${group.topic}/${p}`;
              // Re-read the assignment before every batch: a rebalance may have moved this partition to
              // another member, which then starts from the committed offset.
              if (!member.assigned.includes(p)) {
                positions.delete(posKey);
                continue;
              }
              if (!running) return;
              if (paused.has(posKey)) continue;
              const partition = topic.partitions[p];
              const position = Math.max(positions.get(posKey) ?? group.committed[p], partition.base);
              const end = partition.base + partition.messages.length;
              if (position >= end) continue;
              const count = Math.min(maxBatch, end - position);
              const messages = partition.messages.slice(
                position - partition.base,
                position - partition.base + count,
              );
              const acked = new Promise<void>((resolve) => {
                subscriber.next({ topic: group.topic, partition: p, messages, ack: resolve });
              });
              await acked;
              if (!running) return;
              positions.set(posKey, position + count);
              // Processed is processed: commit even if the partition was revoked meanwhile, so that the
              // new owner skips what it can (at least once, as on Kafka, for batches in flight).
              group.committed[p] = Math.max(group.committed[p], position + count);
              this.wakeProducers();
              emitted = true;
            }
          }
          if (!emitted && running) {
            await new Promise<void>((resolve) => {
              wakeSelf = resolve;
              this.dataWaiters.push(resolve);
            });
          }
        }
      };
      loop().catch((err: unknown) => subscriber.error(err));

      return () => {
        running = false;
        wakers.delete(wake);
        wakeSelf?.();
        for (const { group, member } of joined) {
          group.members = group.members.filter((m) => m !== member);
          this.rebalance(group, this.topic(group.topic));
        }
      };
    });
    return {
      batches$,
      stopped: async () => undefined,
      pause: (topic, partition) => {
        paused.add(`${topic}/${partition}`);
      },
      resume: (topic, partition) => {
        if (!paused.delete(`${topic}/${partition}`)) return;
        for (const wake of wakers) wake();
      },
    };
  }

  private joinGroup(key: string, topic: Topic, fromBeginning: boolean): Group {
    let group = this.groups.get(key);
    if (group === undefined) {
      group = {
        id: key,
        topic: topic.name,
        committed: topic.partitions.map((p) => (fromBeginning ? p.base : p.base + p.messages.length)),
        members: [],
      };
      this.groups.set(key, group);
    }
    return group;
  }

  /** Range assignment: partitions split as evenly as possible over the group's members, in join order. */
  private rebalance(group: Group, topic: Topic): void {
    const n = topic.partitions.length;
    const m = group.members.length;
    group.members.forEach((member, i) => {
      const from = Math.floor((i * n) / m);
      const to = Math.floor(((i + 1) * n) / m);
      member.assigned = Array.from({ length: to - from }, (_, k) => from + k);
      member.wake();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeProducers();
    this.wakeConsumers();
  }
}
