import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MllpDecoder, mllpFrame, type MllpEvent } from '../../../src/ingest/mllp';

const messages = (events: MllpEvent[]) =>
  events.filter((e) => e.kind === 'message').map((e) => (e.kind === 'message' ? e.payload.toString() : ''));
const problems = (events: MllpEvent[]) =>
  events.filter((e) => e.kind === 'error').map((e) => (e.kind === 'error' ? e.error.problem : ''));

describe('MLLP framing', () => {
  it('frames a message as 0x0B ... 0x1C 0x0D', () => {
    assert.deepEqual([...mllpFrame('AB')], [0x0b, 0x41, 0x42, 0x1c, 0x0d]);
  });

  it('reassembles a frame split across reads at every possible byte boundary', () => {
    const frame = mllpFrame('MSH|^~\\&|A\rPID|||1');
    for (let cut = 1; cut < frame.length; cut++) {
      const d = new MllpDecoder();
      const events = [...d.push(frame.subarray(0, cut)), ...d.push(frame.subarray(cut))];
      assert.deepEqual(messages(events), ['MSH|^~\\&|A\rPID|||1'], `cut at ${cut}`);
      assert.deepEqual(problems(events), []);
      assert.equal(d.inFrame, false);
    }
  });

  it('splits several frames coalesced in one read, and frames fed one byte at a time', () => {
    const bytes = Buffer.concat([
      mllpFrame('one'),
      mllpFrame('two'),
      Buffer.from('\r\n'),
      mllpFrame('three'),
    ]);
    assert.deepEqual(messages(new MllpDecoder().push(bytes)), ['one', 'two', 'three']);
    const d = new MllpDecoder();
    const events: MllpEvent[] = [];
    for (const b of bytes) events.push(...d.push(Buffer.from([b])));
    assert.deepEqual(messages(events), ['one', 'two', 'three']);
    assert.deepEqual(problems(events), []);
  });

  it('reports a frame cut off by a new start byte, and by the connection closing', () => {
    const d = new MllpDecoder();
    const events = d.push(
      Buffer.concat([
        Buffer.from([0x0b]),
        Buffer.from('MSH|^~\\&|A|B|C|D|T||ORU^R01|CTL-9|P|2.6\rPID'),
        mllpFrame('next'),
      ]),
    );
    assert.deepEqual(problems(events), ['truncated']);
    assert.deepEqual(messages(events), ['next']);
    const head = events[0].kind === 'error' ? events[0].head?.toString() : undefined;
    assert.match(head ?? '', /CTL-9/, 'the head of the truncated frame is kept for the NAK');
    const d2 = new MllpDecoder();
    assert.deepEqual(d2.push(Buffer.from([0x0b, 0x41, 0x42, 0x1c])), []);
    assert.deepEqual(problems(d2.end()), ['truncated']);
  });

  it('discards an oversized frame up to its end, keeps its head, and carries on', () => {
    const d = new MllpDecoder(100);
    const big = mllpFrame(`MSH|^~\\&|A|B|C|D|T||ORU^R01|BIG-1|P|2.6\r${'x'.repeat(500)}`);
    const events = [
      ...d.push(big.subarray(0, 60)),
      ...d.push(big.subarray(60, 300)),
      ...d.push(Buffer.concat([big.subarray(300), mllpFrame('ok')])),
    ];
    assert.deepEqual(problems(events), ['oversized']);
    assert.deepEqual(messages(events), ['ok']);
    const e = events.find((x) => x.kind === 'error');
    assert.match(e?.kind === 'error' ? (e.head?.toString() ?? '') : '', /BIG-1/);
  });

  it('skips and reports bytes outside frames; a lone 0x1C inside a frame is data', () => {
    const d = new MllpDecoder();
    const events = d.push(Buffer.concat([Buffer.from('junk'), mllpFrame(Buffer.from([0x41, 0x1c, 0x42]))]));
    assert.deepEqual(problems(events), ['garbage']);
    const m = events.find((x) => x.kind === 'message');
    assert.deepEqual(m?.kind === 'message' ? [...m.payload] : [], [0x41, 0x1c, 0x42]);
  });
});
