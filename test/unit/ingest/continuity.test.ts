import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatientContinuity } from '../../../src/ingest/continuity';

const T0 = 1_800_000_000_000;
const msg = (startSeconds: number, count: number, controlId: string, sampleRateHz = 250) => ({
  startTimeMs: T0 + startSeconds * 1000,
  sampleRateHz,
  sampleCount: count,
  controlId,
});

describe('per-patient continuity', () => {
  it('numbers contiguous messages without holes and absorbs timing jitter', () => {
    const c = new PatientContinuity();
    assert.equal(c.place('p', msg(0, 250, 'a')).kind, 'start');
    const b = c.place('p', msg(1.004, 250, 'b')); // 4 ms late: jitter
    assert.deepEqual([b.kind, b.firstSampleIndex, b.sequenceNumber], ['contiguous', 250, 1]);
    const d = c.place('p', msg(1.998, 250, 'c')); // 2 ms early after re-anchoring: still jitter
    assert.deepEqual([d.kind, d.firstSampleIndex, d.sequenceNumber], ['contiguous', 500, 2]);
  });

  it('a later start is a gap: the numbering jumps by the missing samples', () => {
    const c = new PatientContinuity();
    c.place('p', msg(0, 250, 'a'));
    const g = c.place('p', msg(3, 250, 'b'));
    assert.deepEqual(
      [g.kind, g.firstSampleIndex, g.gapSamples, g.sequenceNumber, g.drop],
      ['gap', 750, 500, 1, false],
    );
    assert.equal(c.place('p', msg(4, 250, 'c')).firstSampleIndex, 1000);
  });

  it('an earlier start overlaps: repeated samples are skipped; a message inside what was received, or a repeated control id, is a duplicate', () => {
    const c = new PatientContinuity();
    c.place('p', msg(0, 250, 'a'));
    const o = c.place('p', msg(0.8, 250, 'b'));
    assert.deepEqual(
      [o.kind, o.firstSampleIndex, o.skipSamples, o.acquisitionTimeMs],
      ['overlap', 250, 50, T0 + 1000],
    );
    const d = c.place('p', msg(0.2, 100, 'x'));
    assert.deepEqual([d.kind, d.drop], ['duplicate', true]);
    const r = c.place('p', msg(1.8, 250, 'b'));
    assert.deepEqual([r.kind, r.drop], ['duplicate', true], 'a retransmission of b');
    const next = c.place('p', msg(1.8, 250, 'c'));
    assert.deepEqual(
      [next.kind, next.firstSampleIndex, next.sequenceNumber],
      ['contiguous', 450, 2],
      'duplicates consume no sequence number',
    );
  });

  it('a rate change starts a new segment with an increasing numbering; patients are independent', () => {
    const c = new PatientContinuity();
    c.place('p', msg(0, 250, 'a'));
    c.place('q', msg(0, 500, 'a', 500));
    const r = c.place('p', msg(1, 500, 'b', 500));
    assert.equal(r.kind, 'rate-change');
    assert.ok(r.firstSampleIndex > 250);
    assert.equal(c.place('p', msg(2, 500, 'c', 500)).kind, 'contiguous');
    assert.equal(c.place('q', msg(1, 500, 'b', 500)).kind, 'contiguous');
    assert.equal(c.patients, 2);
  });
});
