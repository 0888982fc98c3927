/**
 * A bounded read of a real Kafka topic comes out in the fixed window order whatever the fetch size, the
 * same as on the in-process bus, and a stalled reader pauses the partitions ahead at the broker instead of
 * fetching them into memory; resumed, it reads every message exactly once. Runs against `KAFKA_BROKERS`
 * (set by `npm test`) or a broker it starts itself.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { KafkaBus } from '../../src/bus/kafkaBus';
import { MemoryBus } from '../../src/bus/memoryBus';
import { readLog } from '../../src/bus/readLog';
import type { Bus, ConsumedBatch, ConsumerOptions, OutgoingMessage } from '../../src/bus/types';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';
import { countingBus } from '../helpers/countingBus';
import { uniquePrefix } from '../helpers/env';

const PARTITIONS = 6;
const WINDOW = 64;
// Records of different lengths, so partitions end at different offsets; ~300-byte values like small beats.
const KEYS = Array.from({ length: 23 }, (_, i) => `rec-${100 + i}`);
const lengthOf = (key: number) => 20 + 9 * key;
const topic = `${uniquePrefix('readlog')}log`;

let broker: LocalBroker;
let kafka: KafkaBus;
const memory = new MemoryBus({ maxBatchMessages: 500 });

function messages(): OutgoingMessage[][] {
  // Sent round by round (one message per record still running), as a replay interleaves records.
  const rounds: OutgoingMessage[][] = [];
  for (let i = 0; i < lengthOf(KEYS.length - 1); i++)
    rounds.push(
      KEYS.flatMap((key, k) =>
        i < lengthOf(k) ? [{ key, value: Buffer.from(`${key}#${i}`.padEnd(300, '.')) }] : [],
      ),
    );
  return rounds;
}

before(async () => {
  broker = await ensureBroker();
  kafka = new KafkaBus({ brokers: broker.brokers, clientId: 'it-readlog' });
  for (const bus of [kafka, memory] as Bus[]) {
    await bus.ensureTopics([{ topic, partitions: PARTITIONS }]);
    const producer = await bus.producer();
    for (const round of messages()) await producer.send(topic, round);
    await producer.close();
  }
});

after(async () => {
  if (kafka !== undefined) {
    await kafka.deleteTopics([topic]).catch(() => undefined);
    await kafka.close();
  }
  if (broker !== undefined) await broker.stop();
});

const values = (batches: readonly ConsumedBatch[]) =>
  batches.flatMap((b) =>
    b.messages.map((m) => `${m.partition}@${m.offset}=${m.value.toString().split('.')[0]}`),
  );

async function readAll(bus: Bus, groupId: string, fetch?: ConsumerOptions['maxBytesPerPartition']) {
  const endOffsets = await bus.endOffsets(topic);
  return lastValueFrom(
    readLog(bus, {
      topic,
      groupId,
      endOffsets,
      windowOffsets: WINDOW,
      fetch: { maxBytesPerPartition: fetch },
    }).pipe(
      tap((b) => b.ack()),
      toArray(),
    ),
  );
}

test('the same order on Kafka at any fetch size as on the in-process bus', { timeout: 120_000 }, async () => {
  const ends = await kafka.endOffsets(topic);
  assert.deepEqual(ends, await memory.endOffsets(topic), 'both buses partition the keys alike');
  assert.ok(new Set(ends).size > 1, `partitions should end at different offsets: ${ends.join(',')}`);
  const reference = values(await readAll(memory, `${topic}-memory`));
  assert.equal(
    reference.length,
    ends.reduce((a, b) => a + b, 0),
  );
  // Default fetches (1 MiB per partition: whole partitions at once) and 4 KiB ones (a dozen messages).
  const large = values(await readAll(kafka, `${topic}-large`));
  const small = values(await readAll(kafka, `${topic}-small`, 4096));
  assert.deepEqual(large, reference);
  assert.deepEqual(small, reference);
});

test(
  'a stalled read pauses partitions at the broker and resumes without loss',
  { timeout: 120_000 },
  async (t) => {
    const ends = await kafka.endOffsets(topic);
    const { bus: counting, delivered, calls } = countingBus(kafka, ends.length);
    const held: ConsumedBatch[] = [];
    let completed = false;
    let failed: unknown;
    const sub = readLog(counting, {
      topic,
      groupId: `${topic}-stalled`,
      endOffsets: ends,
      windowOffsets: WINDOW,
      fetch: { maxBytesPerPartition: 4096 },
    }).subscribe({
      next: (b) => held.push(b),
      error: (err: unknown) => {
        failed = err;
      },
      complete: () => {
        completed = true;
      },
    });
    // Teardown first: an assertion failing below must not leave the consumer (and the process) running.
    t.after(() => sub.unsubscribe());
    // Wait until every partition but the one handed out is paused and nothing more arrives for 2 s (many
    // fetch rounds): unpaused, the consumer would by then have read every partition to its end.
    const pauses = () => calls.filter((c) => c.startsWith('pause')).length;
    const settleBy = Date.now() + 60_000;
    let last = -1;
    let stableSince = Date.now();
    while (Date.now() < settleBy) {
      const now = delivered.reduce((a, b) => a + b, 0);
      if (now !== last) [last, stableSince] = [now, Date.now()];
      if (pauses() >= PARTITIONS - 1 && Date.now() - stableSince >= 2000) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(held.length, 1, 'one window out until it is acked');
    assert.ok(pauses() >= PARTITIONS - 1, calls.join(', '));
    // A 4 KiB fetch holds at most 13 of these messages; the window out, two buffered, one fetch across the mark.
    const bound = 3 * WINDOW + 13;
    for (let p = 0; p < ends.length; p++)
      assert.ok(
        delivered[p] <= Math.min(bound, ends[p]),
        `partition ${p}: ${delivered[p]} fetched while stalled`,
      );
    assert.ok(
      ends.some((end, p) => delivered[p] < end),
      'some partition should still be ahead of what was fetched',
    );
    const deadline = Date.now() + 90_000;
    while (!completed && failed === undefined && Date.now() < deadline) {
      while (held.length > 0) held.shift()?.ack();
      await new Promise((r) => setTimeout(r, 5));
    }
    sub.unsubscribe();
    assert.equal(failed, undefined);
    assert.ok(completed, 'the read completes once every window is acked');
    assert.deepEqual(delivered, ends, 'every message fetched exactly once across pauses');
  },
);
