import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { map, scan } from 'rxjs';
import { OperatorAdapter } from '../../../src/stream/operatorAdapter';
import { batchByCountOrTime } from '../../../operators/batchByCountOrTime';

describe('OperatorAdapter', () => {
  it('keeps operator state across batches and returns each batch its own outputs', () => {
    const adapter = new OperatorAdapter<number, number>(scan((sum, x) => sum + x, 0));
    assert.deepEqual(adapter.process([1, 2]), [1, 3]);
    assert.deepEqual(adapter.process([]), []);
    assert.deepEqual(adapter.process([10]), [13]);
  });

  it('flushes held state at the end', () => {
    const adapter = new OperatorAdapter<number, number[]>(batchByCountOrTime(3, 60_000));
    assert.deepEqual(adapter.process([1, 2, 3, 4]), [[1, 2, 3]]);
    assert.deepEqual(adapter.end(), [[4]]);
    assert.equal(adapter.ended, true);
  });

  it('rethrows a failure of the chain (so the batch is not acked) and stays failed', () => {
    const adapter = new OperatorAdapter<number, number>(
      map((x) => {
        if (x < 0) throw new Error(`negative ${x}`);
        return x;
      }),
    );
    assert.deepEqual(adapter.process([1]), [1]);
    assert.throws(() => adapter.process([2, -1, 3]), /negative -1/);
    assert.throws(() => adapter.process([4]), /negative -1/);
  });
});
