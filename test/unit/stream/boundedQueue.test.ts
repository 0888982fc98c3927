import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue } from '../../../src/stream/boundedQueue';

const tick = () => new Promise((r) => setImmediate(r));

describe('bounded prefetch queue', () => {
  it('hands items over in order and holds the producer back while full', async () => {
    const q = new BoundedQueue<number>(2);
    const put: number[] = [];
    const producing = (async () => {
      for (let i = 0; i < 5; i++) {
        await q.put(i);
        put.push(i);
      }
      q.close();
    })();
    await tick();
    assert.deepEqual(put, [0, 1], 'the third put waits for a take');
    assert.equal(q.size, 2);
    const taken: number[] = [];
    for (let x = await q.take(); x !== undefined; x = await q.take()) {
      taken.push(x);
      assert.ok(q.size <= 2);
      await tick();
    }
    await producing;
    assert.deepEqual(taken, [0, 1, 2, 3, 4]);
    assert.equal(await q.take(), undefined, 'closed and drained');
  });

  it('a waiting consumer gets the next item directly, and undefined at close', async () => {
    const q = new BoundedQueue<string>(1);
    const first = q.take();
    await q.put('a');
    assert.equal(await first, 'a');
    const last = q.take();
    q.close();
    assert.equal(await last, undefined);
    await assert.rejects(q.put('late'), /put after close/);
  });

  it('a failure on either side reaches the other, waiting or not', async () => {
    const q = new BoundedQueue<number>(1);
    await q.put(1);
    const blocked = q.put(2);
    q.fail(new Error('train step failed'));
    await assert.rejects(blocked, /train step failed/, 'the waiting producer is released with the error');
    await assert.rejects(q.take(), /train step failed/);
    await assert.rejects(q.put(3), /train step failed/);

    const r = new BoundedQueue<number>(1);
    const waiting = r.take();
    r.fail(new Error('broker gone'));
    await assert.rejects(waiting, /broker gone/, 'the waiting consumer too');
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const c of [0, -1, 1.5, Number.NaN]) assert.throws(() => new BoundedQueue(c), /positive integer/);
  });
});
