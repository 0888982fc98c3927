import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { WfdbFormatError } from '../../../src/errors';
import { ANNOTATION_SYMBOLS, annotationCode, parseAnnotations } from '../../../src/wfdb/annotations';
import { readAnnotations } from '../../../src/wfdb/record';
import { encodeAnnotations, requireDataDir } from './fixtures';

describe('MIT annotation reader', () => {
  it('reads record 100: N 2239, A 33, V 1 beats', async () => {
    const annotations = await readAnnotations(requireDataDir(), '100');
    const count = (symbol: string): number => annotations.filter((a) => a.symbol === symbol).length;
    assert.equal(count('N'), 2239);
    assert.equal(count('A'), 33);
    assert.equal(count('V'), 1);
    assert.equal(annotations.length, 2274);
    assert.deepEqual(annotations[0], {
      sample: 18,
      code: 28,
      symbol: '+',
      subtype: 0,
      chan: 0,
      num: 0,
      aux: '(N',
    });
    assert.deepEqual(annotations[1], { sample: 77, code: 1, symbol: 'N', subtype: 0, chan: 0, num: 0 });
    for (let i = 1; i < annotations.length; i++)
      assert.ok(annotations[i].sample >= annotations[i - 1].sample);
  });

  it('maps codes to the WFDB mnemonics of ecgcodes.h', () => {
    // prettier-ignore
    const expected: Record<number, string> = {
      1: 'N', 2: 'L', 3: 'R', 4: 'a', 5: 'V', 6: 'F', 7: 'J', 8: 'A', 9: 'S', 10: 'E', 11: 'j', 12: '/',
      13: 'Q', 14: '~', 16: '|', 18: 's', 19: 'T', 20: '*', 21: 'D', 22: '"', 23: '=', 24: 'p', 25: 'B',
      26: '^', 27: 't', 28: '+', 29: 'u', 30: '?', 31: '!', 32: '[', 33: ']', 34: 'e', 35: 'n', 36: '@',
      37: 'x', 38: 'f', 39: '(', 40: ')', 41: 'r',
    };
    for (const [code, symbol] of Object.entries(expected)) {
      assert.equal(ANNOTATION_SYMBOLS[Number(code)], symbol, `code ${code}`);
      assert.equal(annotationCode(symbol), Number(code));
    }
    assert.equal(ANNOTATION_SYMBOLS[15], '[15]');
    assert.equal(annotationCode('[15]'), undefined);
  });

  it('decodes SKIP, NUM, CHN, SUB and AUX as WFDB does', () => {
    const bytes = encodeAnnotations([
      { sample: 5, code: 28, aux: '(AFIB' }, // odd length: padded
      { sample: 100, code: 1 },
      { sample: 100_000, code: 5, chan: 1 }, // interval > 1023: SKIP
      { sample: 100_010, code: 14, subtype: -1 }, // noise, "unreadable"
      { sample: 100_020, code: 1, num: 3, aux: 'ab' }, // even length: no pad
      { sample: 100_030, code: 12, num: 3, chan: 1 },
    ]);
    assert.deepEqual(parseAnnotations(bytes, 'synthetic.atr'), [
      { sample: 5, code: 28, symbol: '+', subtype: 0, chan: 0, num: 0, aux: '(AFIB' },
      { sample: 100, code: 1, symbol: 'N', subtype: 0, chan: 0, num: 0 },
      { sample: 100_000, code: 5, symbol: 'V', subtype: 0, chan: 1, num: 0 },
      { sample: 100_010, code: 14, symbol: '~', subtype: -1, chan: 0, num: 0 },
      { sample: 100_020, code: 1, symbol: 'N', subtype: 0, chan: 0, num: 3, aux: 'ab' },
      { sample: 100_030, code: 12, symbol: '/', subtype: 0, chan: 1, num: 3 },
    ]);
  });

  it('reports a truncated .atr with the byte offset', async () => {
    const source = await fs.readFile(path.join(requireDataDir(), '100.atr'));
    // Cut in the middle of a word, and on a word boundary (so the end-of-file word is missing).
    for (const length of [1001, 1000]) {
      assert.throws(
        () => parseAnnotations(source.subarray(0, length), '100.atr'),
        (err: unknown) => {
          assert.ok(err instanceof WfdbFormatError);
          assert.equal(err.location.byteOffset, length);
          assert.match(
            err.message,
            new RegExp(`100\\.atr, byte ${length}: file is truncated: .* the file has ${length}`),
          );
          return true;
        },
      );
    }
    // Cut inside an AUX string (the first annotation of 100.atr carries "(N").
    assert.throws(() => parseAnnotations(source.subarray(0, 6), '100.atr'), {
      name: 'WfdbFormatError',
      message: /byte 6: file is truncated: an AUX string of 3 bytes needs bytes up to offset 8/,
    });
    // Cut inside a SKIP interval.
    const skip = encodeAnnotations([{ sample: 5000, code: 1 }]);
    assert.throws(() => parseAnnotations(skip.subarray(0, 4), 's.atr'), {
      message: /byte 4: file is truncated: the 32-bit interval of a SKIP word/,
    });
  });
});
