import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Annotation } from '../../../src/wfdb/annotations';
import { aamiClass, countBeats, hasPacedBeats, isBeat } from '../../../src/wfdb/labels';

const ann = (symbol: string): Annotation => ({ sample: 0, code: 0, symbol, subtype: 0, chan: 0, num: 0 });

describe('beat labels', () => {
  it('maps beat symbols to AAMI classes, e and j to N (de Chazal 2004)', () => {
    // prettier-ignore
    const expected: Record<string, string> = {
      N: 'N', L: 'N', R: 'N', e: 'N', j: 'N',
      A: 'S', a: 'S', J: 'S', S: 'S',
      V: 'V', E: 'V',
      F: 'F',
      '/': 'Q', f: 'Q', Q: 'Q',
    };
    for (const [symbol, cls] of Object.entries(expected)) {
      assert.equal(aamiClass(symbol), cls, symbol);
      assert.ok(isBeat(symbol), symbol);
    }
  });

  it('does not count rhythm, noise, flutter waves or blocked P waves as beats', () => {
    for (const symbol of ['+', '~', '|', '!', 'x', '"', '[', ']', 'toString', 'constructor']) {
      assert.equal(isBeat(symbol), false, symbol);
      assert.equal(aamiClass(symbol), undefined, symbol);
    }
  });

  it('counts beats by symbol and class and flags beats without an AAMI class', () => {
    const counts = countBeats(['N', 'N', 'V', '+', 'x', '/', 'B', 'e'].map(ann));
    assert.equal(counts.beats, 6);
    assert.deepEqual(counts.bySymbol, { N: 2, V: 1, '/': 1, B: 1, e: 1 });
    assert.deepEqual(counts.aami, { N: 3, S: 0, V: 1, F: 0, Q: 1 });
    assert.equal(counts.unmapped, 1);
  });

  it('recognises paced records by their beats, not their names', () => {
    assert.equal(hasPacedBeats(['N', '/'].map(ann)), true);
    assert.equal(hasPacedBeats(['N', 'f'].map(ann)), false);
  });
});
