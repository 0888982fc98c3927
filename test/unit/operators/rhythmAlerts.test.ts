import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestScheduler } from 'rxjs/testing';
import {
  rhythmAlerts,
  rhythmEventsFromBlock,
  type RhythmAlert,
  type RhythmEvent,
} from '../../../operators/rhythmAlerts';

const scheduler = () => new TestScheduler((actual, expected) => assert.deepStrictEqual(actual, expected));

/** A classified beat at `seconds` (360 Hz numbering). */
const beat = (seconds: number, beatClass: string, sourceId = 'p'): RhythmEvent => ({
  type: 'beat',
  sourceId,
  rPeakSampleIndex: Math.round(seconds * 360),
  rPeakTimeMs: seconds * 1000,
  beatClass,
  modelVersion: 'm1',
});
const detection = (seconds: number, sourceId = 'p'): RhythmEvent => ({
  type: 'detection',
  sourceId,
  rPeakSampleIndex: Math.round(seconds * 360),
  rPeakTimeMs: seconds * 1000,
});
const progress = (
  seconds: number,
  extra: Partial<Extract<RhythmEvent, { type: 'progress' }>> = {},
  sourceId = 'p',
): RhythmEvent => ({
  type: 'progress',
  sourceId,
  timeMs: seconds * 1000,
  sampleIndex: Math.round(seconds * 360),
  ...extra,
});

const vt = (onset: number, at: number, bpm: number, beats: number[], sourceId = 'p'): RhythmAlert => ({
  kind: 'ventricular-tachycardia',
  sourceId,
  onsetSampleIndex: Math.round(onset * 360),
  onsetTimeMs: onset * 1000,
  detectedTimeMs: at * 1000,
  heartRateBpm: bpm,
  pauseSeconds: null,
  beats: beats.map((s) => ({ rPeakSampleIndex: Math.round(s * 360), rPeakTimeMs: s * 1000, beatClass: 'V' })),
  modelVersion: 'm1',
});

describe('rhythmAlerts: ventricular tachycardia (marbles)', () => {
  it('alerts on the third consecutive V beat at >= 100 bpm, once per episode', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // V beats every 0.5 s (120 bpm): the alert comes with the third; the fourth is the same episode; an N
      // beat ends it and the next run of three raises a new alert.
      const values = {
        a: beat(1, 'V'),
        b: beat(1.5, 'V'),
        c: beat(2, 'V'),
        d: beat(2.5, 'V'),
        n: beat(3.3, 'N'),
        e: beat(4, 'V'),
        f: beat(4.5, 'V'),
        g: beat(5, 'V'),
      };
      expectObservable(cold('a-b-c-d-n-e-f-g-|', values).pipe(rhythmAlerts())).toBe('----x---------y-|', {
        x: vt(1, 2, 120, [1, 1.5, 2]),
        y: vt(4, 5, 120, [4, 4.5, 5]),
      });
    });
  });

  it('does not alert on a slow ventricular rhythm, or on V beats interrupted by other beats', () => {
    scheduler().run(({ cold, expectObservable }) => {
      // 1 s apart = 60 bpm (idioventricular), then V V N V V.
      const values = {
        a: beat(1, 'V'),
        b: beat(2, 'V'),
        c: beat(3, 'V'),
        d: beat(3.4, 'V'),
        e: beat(3.8, 'V'),
        n: beat(4.2, 'N'),
        f: beat(4.6, 'V'),
        g: beat(5, 'V'),
      };
      expectObservable(cold('abc-d-e-n-f-g|', values).pipe(rhythmAlerts())).toBe('------x------|', {
        x: vt(3, 3.8, 150, [3, 3.4, 3.8]),
      });
    });
  });

  it('keeps sources apart and ignores repeated (redelivered) beats', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = {
        a: beat(1, 'V', 'p'),
        q: beat(1.2, 'V', 'q'),
        b: beat(1.5, 'V', 'p'),
        r: beat(1.7, 'V', 'q'),
        B: beat(1.5, 'V', 'p'),
        c: beat(2, 'V', 'p'),
      };
      expectObservable(cold('aqbrBc|', values).pipe(rhythmAlerts())).toBe('-----x|', {
        x: vt(1, 2, 120, [1, 1.5, 2]),
      });
    });
  });

  it('takes its limits from the options', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: beat(1, 'V'), b: beat(1.5, 'V'), c: beat(2, 'V'), d: beat(2.5, 'V') };
      expectObservable(cold('abcd|', values).pipe(rhythmAlerts({ vtMinBeats: 4, vtMinRateBpm: 130 }))).toBe(
        '----|',
      );
      expectObservable(cold('abcd|', values).pipe(rhythmAlerts({ vtMinBeats: 4, vtMinRateBpm: 110 }))).toBe(
        '---x|',
        { x: vt(1, 2.5, 120, [1, 1.5, 2, 2.5]) },
      );
    });
    assert.throws(() => rhythmAlerts({ vtMinBeats: 1 }), /vtMinBeats/);
    assert.throws(() => rhythmAlerts({ asystoleSeconds: 0 }), /asystoleSeconds/);
  });
});

describe('rhythmAlerts: asystole (marbles)', () => {
  const asystole = (onset: number, pause: number, beats: number[] = [onset]): RhythmAlert => ({
    kind: 'asystole',
    sourceId: 'p',
    onsetSampleIndex: Math.round(onset * 360),
    onsetTimeMs: onset * 1000,
    detectedTimeMs: (onset + 4) * 1000,
    heartRateBpm: null,
    pauseSeconds: pause,
    beats: beats.map((s) => ({
      rPeakSampleIndex: Math.round(s * 360),
      rPeakTimeMs: s * 1000,
      beatClass: null,
    })),
    modelVersion: null,
  });

  it('alerts when the watermark passes 4 s after the last detected beat, once, and re-arms with the next beat', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = {
        s: progress(0, { segmentStart: { timeMs: 0, sampleIndex: 0 } }),
        a: detection(1),
        p: progress(3),
        q: progress(4.9),
        r: progress(5.2),
        t: progress(7),
        b: detection(7.5),
        u: progress(9),
      };
      expectObservable(cold('sapqrtbu|', values).pipe(rhythmAlerts())).toBe('----x---|', {
        x: asystole(1, 4.2),
      });
    });
  });

  it('measures from the start of a segment, never across a gap, and stops at its end', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = {
        s: progress(100, { segmentStart: { timeMs: 100_000, sampleIndex: 36_000 } }),
        p: progress(103),
        e: progress(103.5, { segmentEnd: true }),
        // 60 s later, after a gap in the data: a new segment; a pause is measured from its start.
        n: progress(163.5, { segmentStart: { timeMs: 163_500, sampleIndex: 58_860 } }),
        m: progress(166),
        o: progress(168),
      };
      expectObservable(cold('spenmo|', values).pipe(rhythmAlerts())).toBe('-----x|', {
        x: { ...asystole(163.5, 4.5, []), onsetSampleIndex: 58_860 },
      });
    });
  });

  it('takes the pause limit from the options', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const values = { a: detection(1), p: progress(3.6), q: progress(6) };
      expectObservable(cold('apq|', values).pipe(rhythmAlerts({ asystoleSeconds: 2.5 }))).toBe('-x-|', {
        x: { ...asystole(1, 2.6), detectedTimeMs: 3500 },
      });
    });
  });
});

describe('rhythmEventsFromBlock', () => {
  it('turns a detectQrs block into its detections and a watermark at its end, in the source numbering', () => {
    const events = rhythmEventsFromBlock({
      sourceId: 'p',
      sampleRateHz: 125,
      sourceSampleRateHz: 360,
      firstSampleIndex: 250,
      samples: new Float64Array(125),
      marks: [
        { sampleIndex: 300, sourceSampleIndex: 864, symbol: 'N', aux: null, origin: 'detector' },
        { sampleIndex: 310, sourceSampleIndex: 893, symbol: 'V', aux: null, origin: 'reference' },
      ],
      originTimeMs: 1000,
      segmentStart: true,
      segmentEnd: false,
      endOfStream: false,
    });
    assert.deepEqual(events, [
      {
        type: 'progress',
        sourceId: 'p',
        timeMs: 3000,
        sampleIndex: 720,
        segmentStart: { timeMs: 3000, sampleIndex: 720 },
      },
      { type: 'detection', sourceId: 'p', rPeakSampleIndex: 864, rPeakTimeMs: 3400 },
      { type: 'progress', sourceId: 'p', timeMs: 4000, sampleIndex: 1080, segmentEnd: undefined },
    ]);
  });
});
