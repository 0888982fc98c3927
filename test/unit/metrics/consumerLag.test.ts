/**
 * The consumer-lag monitor against a fake kafkajs admin: lag arithmetic on 64-bit offset strings, the
 * gauge per group/topic/partition, and failures counted rather than thrown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsumerLagMonitor, partitionLags, type LagAdmin } from '../../../src/metrics/consumerLag';
import { Metrics } from '../../../src/metrics/registry';

function fakeAdmin(state: {
  ends: Record<string, Array<{ partition: number; high: string; low: string }>>;
  committed: Record<string, Array<{ partition: number; offset: string }>>;
  fail?: string;
}): LagAdmin & { connects: number; disconnects: number } {
  const admin = {
    connects: 0,
    disconnects: 0,
    connect: async () => {
      admin.connects++;
    },
    disconnect: async () => {
      admin.disconnects++;
    },
    fetchTopicOffsets: async (topic: string) => {
      if (state.fail !== undefined) throw new Error(state.fail);
      return state.ends[topic];
    },
    fetchOffsets: async ({ topics }: { groupId: string; topics: string[] }) =>
      topics.map((topic) => ({ topic, partitions: state.committed[topic] ?? [] })),
  };
  return admin;
}

describe('consumer lag', () => {
  it('end offset minus committed offset; all retained messages when nothing is committed', () => {
    const lags = partitionLags(
      'g',
      't',
      [
        { partition: 1, high: '9007199254741000', low: '0' },
        { partition: 0, high: '120', low: '20' },
        { partition: 2, high: '50', low: '0' },
      ],
      [
        { partition: 1, offset: '9007199254740993' },
        { partition: 2, offset: '60' }, // committed ahead of a stale end offset
      ],
    );
    assert.deepEqual(
      lags.map((l) => [l.partition, l.lag, l.committed]),
      [
        [0, 100, -1],
        [1, 7, 9007199254740992], // committed is display only; the lag itself is exact (BigInt)
        [2, 0, 60],
      ],
    );
  });

  it('sets ecg_kafka_consumer_lag_messages per group, topic and partition', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const state = {
      ends: {
        'ecg.samples': [
          { partition: 0, high: '100', low: '0' },
          { partition: 1, high: '40', low: '0' },
        ],
      },
      committed: { 'ecg.samples': [{ partition: 0, offset: '90' }] },
    };
    const admin = fakeAdmin(state);
    const monitor = new ConsumerLagMonitor(admin, [{ groupId: 'run-1', topics: ['ecg.samples'] }], metrics);
    const first = await monitor.poll();
    assert.deepEqual(
      first.map((l) => l.lag),
      [10, 40],
    );
    state.committed['ecg.samples'] = [
      { partition: 0, offset: '100' },
      { partition: 1, offset: '40' },
    ];
    await monitor.stop(); // final poll
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /^ecg_kafka_consumer_lag_messages\{group="run-1",topic="ecg\.samples",partition="0"\} 0$/m,
    );
    assert.match(
      text,
      /^ecg_kafka_consumer_lag_messages\{group="run-1",topic="ecg\.samples",partition="1"\} 0$/m,
    );
    assert.deepEqual([admin.connects, admin.disconnects], [1, 1]);
  });

  it('a topic that does not exist yet is skipped, not counted as a failure', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const lines: string[] = [];
    const admin = fakeAdmin({ ends: {}, committed: {} });
    admin.fetchTopicOffsets = async () => {
      // As kafkajs throws it after its retries: the protocol error as the cause.
      const protocolError = Object.assign(new Error('This server does not host this topic-partition'), {
        type: 'UNKNOWN_TOPIC_OR_PARTITION',
      });
      throw Object.assign(new Error(protocolError.message), { cause: protocolError });
    };
    const monitor = new ConsumerLagMonitor(admin, [{ groupId: 'g', topics: ['later'] }], metrics, {
      log: (l) => lines.push(l),
    });
    assert.deepEqual(await monitor.poll(), []);
    await monitor.stop({ finalPoll: false });
    assert.deepEqual(lines, []);
    assert.doesNotMatch(await metrics.registry.metrics(), /^ecg_errors_total\{/m);
  });

  it('a failed poll is counted and reported once, and does not throw', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const lines: string[] = [];
    const admin = fakeAdmin({
      ends: {},
      committed: {},
      fail: 'This server does not host this topic-partition',
    });
    const monitor = new ConsumerLagMonitor(admin, [{ groupId: 'g', topics: ['gone'] }], metrics, {
      log: (l) => lines.push(l),
    });
    assert.deepEqual(await monitor.poll(), []);
    assert.deepEqual(await monitor.poll(), []);
    await monitor.stop({ finalPoll: false });
    assert.equal(lines.length, 1);
    assert.match(lines[0], /consumer lag: poll failed: This server does not host/);
    assert.match(
      await metrics.registry.metrics(),
      /^ecg_errors_total\{stage="consumer-lag",code="LAG_POLL"\} 2$/m,
    );
  });
});
