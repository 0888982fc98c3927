import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstValueFrom } from 'rxjs';
import { MemoryBus } from '../../../src/bus/memoryBus';
import { partitionForKey } from '../../../src/bus/partitioner';
import type { ConsumedBatch } from '../../../src/bus/types';

const value = (s: string) => Buffer.from(s);
const tick = () => new Promise((r) => setImmediate(r));

describe('partitioner', () => {
  it("maps keys like Kafka's default (murmur2) partitioner", () => {
    // Kafka's Java client puts key "100" on 6 partitions at murmur2("100") & 0x7fffffff % 6; the same
    // function from kafkajs is used, so the mapping is stable and spreads records.
    const parts = new Set(
      ['100', '101', '102', '103', '104', '105', '106', '107'].map((k) => partitionForKey('t', k, 6)),
    );
    assert.ok(parts.size >= 3, `keys should spread over partitions, got ${[...parts]}`);
    assert.equal(partitionForKey('t', '100', 6), partitionForKey('other', '100', 6));
  });
});

describe('MemoryBus', () => {
  it('keeps per-key order and delivers every message once to a group', async () => {
    const bus = new MemoryBus({ maxBatchMessages: 4 });
    await bus.ensureTopics([{ topic: 't', partitions: 3 }]);
    const producer = await bus.producer();
    for (let i = 0; i < 30; i++) await producer.send('t', [{ key: `k${i % 5}`, value: value(String(i)) }]);
    const seen: string[] = [];
    const sub = bus.source({ groupId: 'g', topics: ['t'], fromBeginning: true }).batches$.subscribe((b) => {
      for (const m of b.messages) seen.push(`${m.key}:${m.value.toString()}`);
      b.ack();
    });
    while (seen.length < 30) await tick();
    sub.unsubscribe();
    for (let k = 0; k < 5; k++) {
      const values = seen.filter((s) => s.startsWith(`k${k}:`)).map((s) => Number(s.split(':')[1]));
      assert.deepEqual(
        values,
        [...values].sort((a, b) => a - b),
        `order of key k${k}`,
      );
      assert.equal(values.length, 6);
    }
  });

  it("does not emit a partition's next batch before the previous one is acked", async () => {
    const bus = new MemoryBus({ maxBatchMessages: 2 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const producer = await bus.producer();
    await producer.send(
      't',
      ['a', 'b', 'c', 'd'].map((k) => ({ key: 'same', value: value(k) })),
    );
    const batches: ConsumedBatch[] = [];
    const sub = bus
      .source({ groupId: 'g', topics: ['t'], fromBeginning: true })
      .batches$.subscribe((b) => batches.push(b));
    await tick();
    assert.equal(batches.length, 1);
    await tick();
    assert.equal(batches.length, 1, 'still waiting for the ack');
    batches[0].ack();
    await tick();
    assert.equal(batches.length, 2);
    assert.deepEqual(
      batches[1].messages.map((m) => m.offset),
      ['2', '3'],
    );
    sub.unsubscribe();
  });

  it('resumes a group from its committed offsets; unacked batches are redelivered', async () => {
    const bus = new MemoryBus({ maxBatchMessages: 1 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const producer = await bus.producer();
    await producer.send(
      't',
      ['0', '1', '2'].map((k) => ({ key: 'k', value: value(k) })),
    );
    const source = bus.source({ groupId: 'g', topics: ['t'], fromBeginning: true });
    const received: ConsumedBatch[] = [];
    const sub = source.batches$.subscribe((b) => received.push(b));
    await tick();
    received[0].ack(); // offset 0 committed
    await tick();
    assert.equal(received.length, 2);
    assert.equal(received[1].messages[0].offset, '1'); // emitted, never acked
    sub.unsubscribe();
    const again = await firstValueFrom(source.batches$);
    assert.equal(again.messages[0].offset, '1', 'the unacked batch is delivered again');
    const otherGroup = await firstValueFrom(
      bus.source({ groupId: 'h', topics: ['t'], fromBeginning: true }).batches$,
    );
    assert.equal(otherGroup.messages[0].offset, '0', 'groups are independent');
  });

  it('splits partitions between the members of one group', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 4 }]);
    const producer = await bus.producer();
    const keys = Array.from({ length: 40 }, (_, i) => `patient-${i}`);
    await producer.send(
      't',
      keys.map((k) => ({ key: k, value: value(k) })),
    );
    const partitionsOf = [new Set<number>(), new Set<number>()];
    let count = 0;
    const source = bus.source({ groupId: 'g', topics: ['t'], fromBeginning: true });
    const subs = [0, 1].map((i) =>
      source.batches$.subscribe((b) => {
        partitionsOf[i].add(b.partition);
        count += b.messages.length;
        b.ack();
      }),
    );
    while (count < 40) await tick();
    subs.forEach((s) => s.unsubscribe());
    assert.equal(count, 40, 'each message once');
    for (const p of partitionsOf[0])
      assert.ok(!partitionsOf[1].has(p), `partition ${p} consumed by both members`);
  });

  it('bounds memory: a producer waits when retention is full of unconsumed data', async () => {
    const bus = new MemoryBus({ retentionBytes: 100, maxBatchMessages: 100 });
    await bus.ensureTopics([{ topic: 't', partitions: 1 }]);
    const producer = await bus.producer();
    const source = bus.source({ groupId: 'g', topics: ['t'], fromBeginning: true });
    const held: ConsumedBatch[] = [];
    const sub = source.batches$.subscribe((b) => held.push(b));
    await producer.send('t', [{ key: 'k', value: Buffer.alloc(80) }]);
    let sent = false;
    const blocked = producer.send('t', [{ key: 'k', value: Buffer.alloc(80) }]).then(() => (sent = true));
    await tick();
    await tick();
    assert.equal(sent, false, 'second send must wait for the consumer');
    held[0].ack();
    await blocked;
    assert.equal(sent, true);
    sub.unsubscribe();
  });

  it('rejects unknown topics and partition-count changes with clear errors', async () => {
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 't', partitions: 2 }]);
    await assert.rejects(
      bus.ensureTopics([{ topic: 't', partitions: 3 }]),
      /exists with 2 partitions, expected 3/,
    );
    const producer = await bus.producer();
    await assert.rejects(
      producer.send('nope', [{ key: 'k', value: value('x') }]),
      /topic nope does not exist/,
    );
  });
});
