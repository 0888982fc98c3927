import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchingSink, RECORD_OVERHEAD_BYTES } from '../../../src/bus/sink';
import type { OutgoingMessage, Producer } from '../../../src/bus/types';

/** A producer whose sends complete only when the test says so. */
function controlledProducer() {
  const sends: { topic: string; messages: readonly OutgoingMessage[]; complete: (err?: Error) => void }[] =
    [];
  const producer: Producer = {
    send: (topic, messages) =>
      new Promise<void>((resolve, reject) => {
        sends.push({ topic, messages, complete: (err) => (err ? reject(err) : resolve()) });
      }),
    close: async () => undefined,
  };
  return { producer, sends };
}

const msg = (key: string, bytes = 10): OutgoingMessage => ({
  key,
  value: Buffer.alloc(bytes, key.charCodeAt(0)),
});
const tick = () => new Promise((r) => setImmediate(r));

describe('BatchingSink', () => {
  it('batches by count, keeps order, one send in flight at a time', async () => {
    const { producer, sends } = controlledProducer();
    const sink = new BatchingSink(producer, { maxBatchMessages: 3, lingerMs: 1000 });
    for (let i = 0; i < 7; i++) await sink.write('t', msg(String(i)));
    await tick();
    assert.equal(sends.length, 1, 'second batch waits for the first send');
    assert.deepEqual(
      sends[0].messages.map((m) => m.key),
      ['0', '1', '2'],
    );
    const flushed = sink.flush();
    sends[0].complete();
    await tick();
    assert.deepEqual(
      sends[1].messages.map((m) => m.key),
      ['3', '4', '5'],
    );
    sends[1].complete();
    await tick();
    assert.deepEqual(
      sends[2].messages.map((m) => m.key),
      ['6'],
    );
    sends[2].complete();
    await flushed;
    assert.deepEqual(sink.stats, { messages: 7, bytes: 7 * (11 + RECORD_OVERHEAD_BYTES), sends: 3 });
  });

  it('applies backpressure: write waits while the buffer is over its bound', async () => {
    const { producer, sends } = controlledProducer();
    // Each message accounts for 19 value + 1 key + overhead bytes: two fill the buffer.
    const sink = new BatchingSink(producer, {
      maxBatchMessages: 2,
      maxBufferedBytes: 2 * (20 + RECORD_OVERHEAD_BYTES),
      lingerMs: 0,
    });
    await sink.write('t', msg('a', 19));
    await sink.write('t', msg('b', 19));
    let third = false;
    const pending = sink.write('t', msg('c', 19)).then(() => (third = true));
    await tick();
    assert.equal(third, false, 'third write must wait for buffer space');
    sends[0].complete();
    await pending;
    assert.equal(third, true);
    let done = false;
    const flushed = sink.flush().then(() => (done = true));
    for (let completed = 1; !done; await tick()) {
      while (completed < sends.length) sends[completed++].complete();
    }
    await flushed;
    assert.deepEqual(
      sends.flatMap((s) => s.messages.map((m) => m.key)),
      ['a', 'b', 'c'],
    );
  });

  it('a failed send rejects flush and every later write; nothing after it is sent', async () => {
    const { producer, sends } = controlledProducer();
    const sink = new BatchingSink(producer, { maxBatchMessages: 1, lingerMs: 0 });
    await sink.write('t', msg('a'));
    await sink.write('t', msg('b'));
    const flushed = sink.flush();
    sends[0].complete(new Error('broker down'));
    await assert.rejects(flushed, /broker down/);
    await assert.rejects(sink.write('t', msg('c')), /broker down/);
    assert.equal(sends.length, 1);
  });

  it('publish resolves per message once acknowledged; after a failure, resume() accepts messages again', async () => {
    const { producer, sends } = controlledProducer();
    const sink = new BatchingSink(producer, { maxBatchMessages: 1, lingerMs: 1000 });
    let first = false;
    const a = sink.publish('t', msg('a')).then(() => (first = true));
    await tick();
    assert.equal(sends.length, 1, 'sent at once, without waiting for the linger');
    assert.equal(first, false, 'not before the bus acknowledges it');
    sends[0].complete();
    await a;
    // A failed send rejects the publish in it and those queued behind it, and a waiting flush.
    const b = sink.publish('t', msg('b'));
    const c = sink.publish('t', msg('c'));
    await tick();
    const flushed = sink.flush();
    sends[1].complete(new Error('broker down'));
    await assert.rejects(b, /broker down/);
    await assert.rejects(c, /broker down/);
    await assert.rejects(flushed, /broker down/);
    await assert.rejects(sink.publish('t', msg('x')), /broker down/, 'sticky until resumed');
    sink.resume();
    const d = sink.publish('t', msg('d'));
    await tick();
    assert.deepEqual(
      sends.map((s) => s.messages.map((m) => m.key).join('')),
      ['a', 'b', 'd'],
      'c and x were dropped, never sent',
    );
    sends[2].complete();
    await d;
    await sink.flush();
  });

  it('sends to each topic separately, in write order', async () => {
    const { producer, sends } = controlledProducer();
    const sink = new BatchingSink(producer, { lingerMs: 0 });
    await sink.write('a', msg('1'));
    await sink.write('b', msg('2'));
    await sink.write('a', msg('3'));
    const flushed = sink.flush();
    for (let i = 0; i < 3; i++) {
      await tick();
      sends[i].complete();
    }
    await flushed;
    assert.deepEqual(
      sends.map((s) => `${s.topic}:${s.messages.map((m) => m.key).join('')}`),
      ['a:1', 'b:2', 'a:3'],
    );
  });
});
