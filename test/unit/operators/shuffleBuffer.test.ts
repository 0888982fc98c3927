import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { shuffleBuffer } from '../../../operators/shuffleBuffer';
import { mulberry32 } from '../../../src/dsp/random';

/** The algorithm written out plainly: what shuffleBuffer must emit, and after which input. */
function reference<T>(items: T[], capacity: number, seed: number): { out: T[]; afterInput: number[] } {
  const random = mulberry32(seed);
  const buffer: T[] = [];
  const out: T[] = [];
  const afterInput: number[] = [];
  items.forEach((item, i) => {
    if (buffer.length < capacity) {
      buffer.push(item);
      return;
    }
    const k = Math.floor(random() * capacity);
    out.push(buffer[k]);
    afterInput.push(i);
    buffer[k] = item;
  });
  for (let i = buffer.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [buffer[i], buffer[j]] = [buffer[j], buffer[i]];
  }
  out.push(...buffer);
  return { out, afterInput };
}

describe('shuffleBuffer (virtual time)', () => {
  it('emits one item per input once full, synchronously, and drains in seeded order at completion', () => {
    const letters = 'abcdefghij'.split('');
    const { out, afterInput } = reference(letters, 4, 7);
    assert.deepEqual(afterInput, [4, 5, 6, 7, 8, 9]);
    new TestScheduler((a, e) => assert.deepStrictEqual(a, e)).run(({ cold, expectObservable }) => {
      const values = Object.fromEntries(letters.map((c) => [c, c]));
      // Inputs at frames 0..9; outputs at the frames of inputs 4..9, then the four left at completion.
      const expected = `---- ${out.slice(0, 6).join('')} (${out.slice(6).join('')}|)`;
      expectObservable(cold('abcdefghij|', values).pipe(shuffleBuffer(4, 7))).toBe(expected, values);
    });
  });

  it('is a permutation, deterministic for a seed, different across seeds', async () => {
    const items = Array.from({ length: 500 }, (_, i) => i);
    const run = (seed: number) => lastValueFrom(from(items).pipe(shuffleBuffer(64, seed), toArray()));
    const a = await run(1);
    assert.deepEqual(
      [...a].sort((x, y) => x - y),
      items,
    );
    assert.deepEqual(await run(1), a);
    assert.notDeepEqual(await run(2), a);
    assert.notDeepEqual(a, items);
  });

  it('with capacity >= length it is a full shuffle emitted at completion only', async () => {
    const out = await lastValueFrom(from([1, 2, 3, 4, 5]).pipe(shuffleBuffer(10, 3), toArray()));
    assert.deepEqual(out, reference([1, 2, 3, 4, 5], 10, 3).out);
    assert.throws(() => shuffleBuffer(0, 1), /capacity/);
  });
});
