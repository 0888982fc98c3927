/**
 * The local broker is a real Kafka: explicit topic creation with a partition count, keyed produce, and a
 * consumer group that sees every key's messages in order on one partition. Runs against `KAFKA_BROKERS`
 * (set by `npm test`) or, standalone, a broker it starts itself.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';

const PARTITIONS = 3;
const KEYS = ['rec-100', 'rec-101', 'rec-103', 'rec-105', 'rec-106', 'rec-108'];
const MESSAGES_PER_KEY = 20;

let broker: LocalBroker;
let kafka: Kafka;
let admin: Admin;
const topic = `it-broker-${process.pid}-${Date.now()}`;

before(async () => {
  broker = await ensureBroker();
  kafka = new Kafka({ clientId: 'ecgflow-broker-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  assert.equal(created, true, `topic ${topic} already existed`);
});

after(async () => {
  if (admin !== undefined) {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
  if (broker !== undefined) await broker.stop();
});

test('topic has the partition count it was created with', async () => {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(topics.length, 1);
  assert.equal(topics[0]?.partitions.length, PARTITIONS);
});

test(
  'keyed messages come back in order per key, each key on one partition',
  { timeout: 60_000 },
  async () => {
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
    await producer.connect();
    try {
      // Several sends, each with one message per key, so per-key order spans batches.
      for (let seq = 0; seq < MESSAGES_PER_KEY; seq++) {
        const messages = KEYS.map((key) => ({ key, value: JSON.stringify({ key, seq }) }));
        const results = await producer.send({ topic, messages });
        for (const r of results) assert.equal(r.errorCode, 0);
      }
    } finally {
      await producer.disconnect();
    }

    const expected = KEYS.length * MESSAGES_PER_KEY;
    const received: Array<{ key: string; seq: number; partition: number; offset: bigint }> = [];
    const consumer = kafka.consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`received ${received.length} of ${expected} messages`)),
          45_000,
        );
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              const body = JSON.parse(message.value?.toString() ?? 'null') as { key: string; seq: number };
              assert.equal(message.key?.toString(), body.key);
              received.push({ ...body, partition, offset: BigInt(message.offset) });
              if (received.length === expected) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }

    assert.equal(received.length, expected);
    const partitionOfKey = new Map<string, number>();
    for (const key of KEYS) {
      const mine = received.filter((m) => m.key === key);
      assert.deepEqual(
        mine.map((m) => m.seq),
        Array.from({ length: MESSAGES_PER_KEY }, (_, i) => i),
        `order of ${key}`,
      );
      const partitions = new Set(mine.map((m) => m.partition));
      assert.equal(partitions.size, 1, `${key} spread over partitions ${[...partitions].join(',')}`);
      partitionOfKey.set(key, mine[0].partition);
      // Offsets increase with seq within the partition.
      for (let i = 1; i < mine.length; i++)
        assert.ok(mine[i].offset > mine[i - 1].offset, `offsets of ${key}`);
    }
    // Six keys under the default (murmur2) partitioner do not all hash to one partition; if they did, the
    // partition count would not be exercised.
    assert.ok(new Set(partitionOfKey.values()).size > 1, 'all keys landed on one partition');
    for (const p of partitionOfKey.values()) assert.ok(p >= 0 && p < PARTITIONS);
  },
);
