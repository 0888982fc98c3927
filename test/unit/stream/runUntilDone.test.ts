import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Subject, of, throwError } from 'rxjs';
import { runUntilDone } from '../../../src/stream/runUntilDone';

describe('runUntilDone', () => {
  it('resolves complete once isDone holds after a batch, and stops consuming', async () => {
    const batches = new Subject<number>();
    let seen = 0;
    const run = runUntilDone({
      stream: batches,
      isDone: () => seen >= 2,
      result: (complete) => ({ complete, seen }),
    });
    seen = 1;
    batches.next(1);
    seen = 2;
    batches.next(2);
    assert.deepEqual(await run.done, { complete: true, seen: 2 });
    assert.equal(batches.observed, false, 'unsubscribed');
  });

  it('resolves incomplete on timeout or stop, and settles only once', async () => {
    const timedOut = runUntilDone({
      stream: new Subject(),
      isDone: () => false,
      result: (complete) => complete,
      timeoutMs: 10,
    });
    assert.equal(await timedOut.done, false);
    const stopped = runUntilDone({ stream: new Subject(), isDone: () => false, result: (c) => c });
    stopped.settle(false);
    stopped.settle(true);
    assert.equal(await stopped.done, false);
  });

  it('rejects with the stream error; check() re-evaluates; synchronous completion works', async () => {
    const failing = runUntilDone({
      stream: throwError(() => new Error('broker gone')),
      isDone: () => false,
      result: () => 0,
    });
    await assert.rejects(failing.done, /broker gone/);
    let ready = false;
    const waiting = runUntilDone({ stream: new Subject(), isDone: () => ready, result: (c) => c });
    ready = true;
    waiting.check();
    assert.equal(await waiting.done, true);
    const sync = runUntilDone({ stream: of(1), isDone: () => true, result: (c) => c });
    assert.equal(await sync.done, true);
  });
});
