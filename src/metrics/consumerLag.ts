/**
 * Kafka consumer lag, polled from the outside the way `kafka-consumer-groups.sh --describe` computes it:
 * for each partition of the group's topics, the partition's end offset (high watermark) minus the group's
 * committed offset, set on `ecg_kafka_consumer_lag_messages{group,topic,partition}`. A partition the
 * group has not committed on yet counts everything retained (high - low) as lag: ecgflow's groups start
 * from the beginning. Polling runs on a timer, one poll at a time, and never throws; failures are counted
 * on `ecg_errors_total{stage="consumer-lag"}` and reported once per distinct message. A topic that does not
 * exist yet, or whose partitions have no leader yet (the job creates its topics after the monitor starts),
 * is skipped until it is ready: that is not a failure.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Metrics } from './registry';

/** The slice of kafkajs's Admin the monitor needs (a fake one in unit tests). */
export interface LagAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; high: string; low: string }>>;
  fetchOffsets(options: {
    groupId: string;
    topics: string[];
  }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

/** kafkajs error types that mean "this topic is not there or not ready yet". */
const NOT_READY = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION']);

/** Whether `err`, or an error it wraps (kafkajs wraps the last one after its retries), is one of those. */
function notReady(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const { type, cause } = e as { type?: unknown; cause?: unknown };
    if (typeof type === 'string' && NOT_READY.has(type)) return true;
    e = cause;
  }
  return false;
}

export interface LagTarget {
  groupId: string;
  topics: readonly string[];
}

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** Messages not yet committed by the group. */
  lag: number;
  /** Committed offset, or -1 when the group has none on this partition. */
  committed: number;
  high: number;
}

/**
 * Lag per partition from end offsets and committed offsets (decimal strings, as kafkajs gives them; -1 =
 * none committed). Never negative: a commit can race ahead of a stale end offset.
 */
export function partitionLags(
  group: string,
  topic: string,
  ends: ReadonlyArray<{ partition: number; high: string; low: string }>,
  committed: ReadonlyArray<{ partition: number; offset: string }>,
): PartitionLag[] {
  return ends
    .map((e) => {
      const high = BigInt(e.high);
      const low = BigInt(e.low);
      const c = committed.find((p) => p.partition === e.partition);
      const offset = c === undefined ? -1n : BigInt(c.offset);
      const lag = offset < 0n ? high - low : high - offset;
      return {
        group,
        topic,
        partition: e.partition,
        lag: Number(lag < 0n ? 0n : lag),
        committed: Number(offset),
        high: Number(high),
      };
    })
    .sort((a, b) => a.partition - b.partition);
}

export interface LagMonitorOptions {
  /** Poll period. Default 5 s. */
  intervalMs?: number;
  /** Where failures are reported (once per distinct message). Default: stderr. */
  log?: (line: string) => void;
}

export class ConsumerLagMonitor {
  private readonly intervalMs: number;
  private readonly log: (line: string) => void;
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private connected: Promise<void> | undefined;
  private polling: Promise<PartitionLag[]> = Promise.resolve([]);
  private stopped = false;

  constructor(
    private readonly admin: LagAdmin,
    private readonly targets: readonly LagTarget[],
    private readonly metrics: Metrics,
    options: LagMonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 5000;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Poll now and then every interval until `stop`. */
  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  /**
   * Fetch and publish the lag of every target now; resolves with what was published (empty on failure).
   * Polls are serialised.
   */
  poll(): Promise<PartitionLag[]> {
    this.polling = this.polling.then(() => this.pollNow());
    return this.polling;
  }

  private async pollNow(): Promise<PartitionLag[]> {
    const out: PartitionLag[] = [];
    try {
      this.connected ??= this.admin.connect();
      await this.connected;
      for (const target of this.targets) {
        for (const topic of target.topics) {
          let ends: Awaited<ReturnType<LagAdmin['fetchTopicOffsets']>>;
          let committed: Awaited<ReturnType<LagAdmin['fetchOffsets']>>;
          try {
            ends = await this.admin.fetchTopicOffsets(topic);
            committed = await this.admin.fetchOffsets({ groupId: target.groupId, topics: [topic] });
          } catch (err) {
            if (notReady(err)) continue;
            throw err;
          }
          const partitions = committed.find((c) => c.topic === topic)?.partitions ?? [];
          out.push(...partitionLags(target.groupId, topic, ends, partitions));
        }
      }
    } catch (err) {
      this.connected = undefined;
      this.metrics.errors.inc({ stage: 'consumer-lag', code: 'LAG_POLL' });
      const line = `consumer lag: poll failed: ${(err as Error).message ?? String(err)}`;
      if (!this.reported.has(line)) this.log(line);
      this.reported.add(line);
      return [];
    }
    for (const p of out)
      this.metrics.consumerLag.set({ group: p.group, topic: p.topic, partition: String(p.partition) }, p.lag);
    return out;
  }

  /** Stop polling; with `finalPoll` (default) publish the lag once more first. Disconnects the admin. */
  async stop(options: { finalPoll?: boolean } = {}): Promise<PartitionLag[]> {
    if (this.stopped) return [];
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const last = options.finalPoll === false ? await this.polling : await this.poll();
    this.stopped = true;
    if (this.connected !== undefined) {
      this.connected = undefined;
      await this.admin.disconnect().catch(() => undefined);
    }
    return last;
  }
}

/** A kafkajs admin client for the monitor (its own connection, quiet logging: failures are counted). */
export function kafkaLagAdmin(brokers: readonly string[], clientId = 'ecgflow-lag-monitor'): LagAdmin {
  const kafka = new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  return kafka.admin();
}
