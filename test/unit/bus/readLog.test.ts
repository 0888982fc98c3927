import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastValueFrom, Subject, tap, toArray } from 'rxjs';
import { MemoryBus } from '../../../src/bus/memoryBus';
import { readLog } from '../../../src/bus/readLog';
import { countingBus } from '../../helpers/countingBus';
import type { Bus, BusSource, ConsumedBatch, ConsumedMessage } from '../../../src/bus/types';

const value = (s: string) => Buffer.from(s);
const tick = () => new Promise((r) => setImmediate(r));

/** The same log (messages per key, in the same sequence) on a fresh in-process bus. */
async function logOnBus(
  maxBatchMessages: number,
  partitions: number,
  keys: readonly string[],
  perKey: number,
) {
  const bus = new MemoryBus({ maxBatchMessages });
  await bus.ensureTopics([{ topic: 'log', partitions }]);
  const producer = await bus.producer();
  for (let i = 0; i < perKey; i++)
    await producer.send(
      'log',
      keys.map((k) => ({ key: k, value: value(`${k}#${i}`) })),
    );
  return bus;
}

async function readAll(bus: Bus, windowOffsets: number, groupId = 'g'): Promise<ConsumedBatch[]> {
  const endOffsets = await bus.endOffsets('log');
  return lastValueFrom(
    readLog(bus, { topic: 'log', groupId, endOffsets, windowOffsets }).pipe(
      tap((b) => b.ack()),
      toArray(),
    ),
  );
}

const ids = (batches: readonly ConsumedBatch[]) =>
  batches.flatMap((b) => b.messages.map((m) => `${m.partition}@${m.offset}`));

/** A bus whose one source hands over exactly the batches a test pushes. */
function scriptedBus() {
  const batches = new Subject<ConsumedBatch>();
  const message = (partition: number, offset: number): ConsumedMessage => ({
    topic: 'log',
    partition,
    offset: String(offset),
    key: 'k',
    value: value(`${partition}@${offset}`),
    timestampMs: 0,
    headers: {},
  });
  const push = (partition: number, offsets: readonly number[]) =>
    batches.next({
      topic: 'log',
      partition,
      messages: offsets.map((o) => message(partition, o)),
      ack: () => undefined,
    });
  const bus = {
    source: (): BusSource => ({
      batches$: batches.asObservable(),
      stopped: async () => undefined,
      pause: () => undefined,
      resume: () => undefined,
    }),
  } as unknown as Bus;
  return { bus, push };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('readLog', () => {
  it('reads up to end offsets fixed in advance, then completes', async () => {
    const bus = new MemoryBus({ maxBatchMessages: 3 });
    await bus.ensureTopics([
      { topic: 'log', partitions: 2 },
      { topic: 'empty', partitions: 2 },
    ]);
    const producer = await bus.producer();
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    await producer.send(
      'log',
      keys.map((k) => ({ key: k, value: value(k) })),
    );
    const endOffsets = await bus.endOffsets('log');
    assert.equal(
      endOffsets.reduce((a, b) => a + b, 0),
      10,
    );
    await producer.send(
      'log',
      keys.map((k) => ({ key: k, value: value(`late-${k}`) })),
    );
    const read = await lastValueFrom(
      readLog(bus, { topic: 'log', groupId: 'epoch-0', endOffsets }).pipe(
        tap((b) => b.ack()),
        toArray(),
      ),
    );
    const values = read.flatMap((b) => b.messages.map((m) => m.value.toString()));
    assert.deepEqual(values.sort(), [...keys].sort(), 'exactly the messages before the end offsets');
    const none = await lastValueFrom(
      readLog(bus, { topic: 'empty', groupId: 'g', endOffsets: await bus.endOffsets('empty') }).pipe(
        toArray(),
      ),
    );
    assert.equal(none.length, 0);
  });

  it('gives the partitions turns of fixed offset windows, whatever the batch size', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `rec-${100 + i}`);
    const window = 5;
    const reads: ConsumedBatch[][] = [];
    for (const maxBatch of [1, 3, 7, 1000])
      reads.push(await readAll(await logOnBus(maxBatch, 3, keys, 9), window));
    const bus = await logOnBus(4, 3, keys, 9);
    const ends = await bus.endOffsets('log');
    assert.ok(new Set(ends).size > 1, `the partitions should hold different counts: ${ends.join(',')}`);
    // Window k of partition 0, window k of partition 1, ... then window k+1.
    const expected: string[] = [];
    for (let k = 0; k * window < Math.max(...ends); k++)
      for (let p = 0; p < ends.length; p++)
        for (let o = k * window; o < Math.min((k + 1) * window, ends[p]); o++) expected.push(`${p}@${o}`);
    for (const read of reads) {
      assert.deepEqual(ids(read), expected);
      for (const b of read) {
        assert.ok(b.messages.length <= window);
        assert.ok(b.messages.every((m) => m.partition === b.partition));
      }
    }
    assert.deepEqual(
      reads[0].map((b) => b.messages.map((m) => m.value.toString())),
      reads[3].map((b) => b.messages.map((m) => m.value.toString())),
    );
  });

  it('emits the next window only after an ack, and pauses the partitions ahead instead of buffering', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `rec-${200 + i}`);
    const bus = await logOnBus(3, 3, keys, 40);
    const ends = await bus.endOffsets('log');
    const total = ends.reduce((a, b) => a + b, 0);
    const { bus: counting, delivered, calls: pauses } = countingBus(bus, ends.length);
    const window = 4;
    const held: ConsumedBatch[] = [];
    let completed = false;
    const sub = readLog(counting, {
      topic: 'log',
      groupId: 'g',
      endOffsets: ends,
      windowOffsets: window,
    }).subscribe({
      next: (b) => held.push(b),
      complete: () => {
        completed = true;
      },
    });
    for (let i = 0; i < 50; i++) await tick();
    assert.equal(held.length, 1, 'one window out until it is acked');
    for (let p = 0; p < ends.length; p++) {
      // The window out (partition 0's), two windows buffered, and at most the batch that crossed the mark.
      assert.ok(delivered[p] <= 3 * window + 3, `partition ${p}: ${delivered[p]} handed over while stalled`);
      assert.ok(delivered[p] < ends[p], `partition ${p} should not have been read to its end`);
    }
    assert.ok(pauses.filter((s) => s.startsWith('pause')).length >= ends.length);
    for (let i = 0; !completed && i < 10_000; i++) {
      while (held.length > 0) held.shift()?.ack();
      await tick();
    }
    sub.unsubscribe();
    assert.ok(completed, 'the read completes once every window is acked');
    assert.equal(
      delivered.reduce((a, b) => a + b, 0),
      total,
      'every message handed over once: a paused partition resumes where it stopped',
    );
    assert.ok(pauses.some((s) => s.startsWith('resume')));
  });

  it('drops messages the bus hands over again (at-least-once redelivery)', async () => {
    const { bus, push } = scriptedBus();
    const read = lastValueFrom(
      readLog(bus, { topic: 'log', groupId: 'g', endOffsets: [6, 3], windowOffsets: 4 }).pipe(
        tap((b) => b.ack()),
        toArray(),
      ),
    );
    push(0, range(0, 3));
    push(0, range(1, 5)); // a restarted fetch from an older offset
    push(1, range(0, 3));
    push(0, range(0, 9)); // again, and past the end offset
    assert.deepEqual(ids(await read), ['0@0', '0@1', '0@2', '0@3', '1@0', '1@1', '1@2', '0@4', '0@5']);
  });

  it('completes a partition whose last offsets before the end never come (transaction markers)', async () => {
    const { bus, push } = scriptedBus();
    const read = lastValueFrom(
      readLog(bus, { topic: 'log', groupId: 'g', endOffsets: [5], windowOffsets: 4 }).pipe(
        tap((b) => b.ack()),
        toArray(),
      ),
    );
    push(0, [0, 1, 2]); // 3 and 4 are markers: the next record is at 5
    push(0, [5, 6]);
    assert.deepEqual(ids(await read), ['0@0', '0@1', '0@2']);
  });

  it('releases the next window once, however often a batch is acked', async () => {
    const { bus, push } = scriptedBus();
    const out: ConsumedBatch[] = [];
    const sub = readLog(bus, { topic: 'log', groupId: 'g', endOffsets: [12], windowOffsets: 4 }).subscribe(
      (b) => out.push(b),
    );
    push(0, range(0, 12));
    assert.equal(out.length, 1);
    out[0].ack();
    await tick();
    assert.equal(out.length, 2);
    out[0].ack(); // again: must not release a third window while the second is out
    await tick();
    assert.equal(out.length, 2);
    sub.unsubscribe();
  });
});
