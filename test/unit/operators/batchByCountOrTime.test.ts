import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestScheduler } from 'rxjs/testing';
import { batchByCountOrTime } from '../../../operators/batchByCountOrTime';

const scheduler = () => new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));

describe('batchByCountOrTime (virtual time)', () => {
  it('emits a full batch at once, a partial one maxWait after its first item, the rest at completion', () => {
    scheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-c-d------e-|');
      const subs = '      ^---------------!';
      const expected = '-----x------y---(z|)';
      expectObservable(source.pipe(batchByCountOrTime(3, 5))).toBe(expected, {
        x: ['a', 'b', 'c'],
        y: ['d'],
        z: ['e'],
      });
      expectSubscriptions(source.subscriptions).toBe(subs);
    });
  });

  it('times a batch from its first item, however many follow within the wait', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const source = cold('a 1ms b 1ms c 10ms d 20ms |');
      // a at 0, b at 2, c at 4: 5 ms after a (time 5) the batch [a, b, c] leaves; d at 15 leaves at 20.
      expectObservable(source.pipe(batchByCountOrTime(10, 5))).toBe('5ms x 14ms y 15ms |', {
        x: ['a', 'b', 'c'],
        y: ['d'],
      });
    });
  });

  it('never emits empty batches, forwards errors, and cancels its timer on unsubscribe', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('------|').pipe(batchByCountOrTime(2, 2))).toBe('------|');
      expectObservable(cold('-a-#').pipe(batchByCountOrTime(2, 10))).toBe('---#');
      expectObservable(cold('-a--------|').pipe(batchByCountOrTime(2, 5)), '^--!').toBe('----');
    });
  });

  it('holds at most maxCount items (bounded memory)', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = Object.fromEntries('abcdefgh'.split('').map((c) => [c, c]));
      // 8 items in frame 0: two full batches leave at once, the remaining two 4 ms later (a group of two
      // values in a marble spans frames 0-3, so z at frame 4 follows it directly).
      expectObservable(cold('(abcdefgh)', values).pipe(batchByCountOrTime(3, 4))).toBe('(xy)z', {
        x: ['a', 'b', 'c'],
        y: ['d', 'e', 'f'],
        z: ['g', 'h'],
      });
    });
  });

  it('rejects bad bounds', () => {
    assert.throws(() => batchByCountOrTime(0, 10), /maxCount/);
    assert.throws(() => batchByCountOrTime(1, -1), /maxWaitMs/);
  });
});
