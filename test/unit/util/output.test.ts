import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, table } from '../../../src/util/output';

describe('output for people', () => {
  it('writes durations in the unit a reader takes in at a glance', () => {
    assert.equal(formatDuration(0), '0 s');
    assert.equal(formatDuration(119.4), '119 s');
    assert.equal(formatDuration(120), '2.0 min');
    assert.equal(formatDuration(7199), '120.0 min');
    assert.equal(formatDuration(7200), '2.00 h');
    assert.equal(formatDuration(13_002.4), '3.61 h');
    assert.equal(formatDuration(Number.NaN), '?');
  });

  it('aligns tables: first column left, the others right, numbers grouped', () => {
    assert.equal(
      table([
        ['mode', 'PPE'],
        ['adaptive', 631_864],
        ['vanilla', 1_146_805],
      ]),
      ['mode            PPE', 'adaptive    631,864', 'vanilla   1,146,805'].join('\n'),
    );
    // Figures written as text align like numbers; a column of sentences reads from the left.
    assert.equal(
      table([
        ['class', 'recall %', 'note'],
        ['N', '99.88', 'most beats'],
        ['S', '-', 'none'],
        ['V', '100.00 %', 'all of them'],
      ]),
      [
        'class  recall %  note',
        'N         99.88  most beats',
        'S             -  none',
        'V      100.00 %  all of them',
      ].join('\n'),
    );
  });
});
