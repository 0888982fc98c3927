import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RrTracker } from '../../../src/dsp/rrIntervals';

const close = (a: number | null, b: number, eps = 1e-9) =>
  assert.ok(a !== null && Math.abs(a - b) < eps, `${a} != ${b}`);

describe('RrTracker', () => {
  it('gives pre/post RR in seconds and averages over plausible intervals only', () => {
    const rr = new RrTracker(100, { localBeats: 3, longBeats: 1000 });
    const first = rr.next(0, 80);
    assert.equal(first.preSeconds, null);
    close(first.postSeconds, 0.8);
    assert.equal(first.localMeanSeconds, 0.8, 'initial guess before any interval');
    const b1 = rr.next(80, 200);
    close(b1.preSeconds, 0.8);
    close(b1.postSeconds, 1.2);
    close(b1.localMeanSeconds, 0.8);
    rr.next(200, 260);
    const b3 = rr.next(260, 270); // pre 0.6; the 0.1 s to the next peak is the next beat's (implausible) pre
    close(b3.localMeanSeconds, (0.8 + 1.2 + 0.6) / 3);
    const b4 = rr.next(270, 370);
    close(b4.preSeconds, 0.1, 1e-9); // reported as it is...
    close(b4.localMeanSeconds, (0.8 + 1.2 + 0.6) / 3); // ...but not averaged
    const b5 = rr.next(370, undefined);
    assert.equal(b5.postSeconds, null);
    close(b5.localMeanSeconds, (1.2 + 0.6 + 1.0) / 3, 1e-9); // window of 3
    close(b5.longMeanSeconds, (0.8 + 1.2 + 0.6 + 1.0) / 4, 1e-9); // running mean before longBeats
  });

  it('turns into an exponential average after longBeats intervals', () => {
    const rr = new RrTracker(1, { longBeats: 4, maxPlausibleSeconds: 100 });
    let t = 0;
    rr.next(t, undefined);
    for (const d of [1, 1, 1, 1]) rr.next((t += d), undefined);
    const after = rr.next((t += 5), undefined);
    close(after.longMeanSeconds, 1 + (5 - 1) / 4);
  });

  it('treats an R-peak at or before the previous one as a new run, never a negative interval', () => {
    const rr = new RrTracker(100);
    rr.next(500, undefined);
    const back = rr.next(400, 300);
    assert.equal(back.preSeconds, null);
    assert.equal(back.postSeconds, null);
  });
});
