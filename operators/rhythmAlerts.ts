/**
 * `rhythmAlerts`: per-source rhythm events -> alerts, for the two rhythms a bedside monitor must alarm on:
 *
 * - **ventricular tachycardia**: at least `vtMinBeats` (3) consecutive classified beats of class `vtClass`
 *   (V) at a rate of at least `vtMinRateBpm` (100 bpm), the rate being 60 / mean RR over those beats. Fed by
 *   `beat` events (classified beats, in R-peak order per source). A beat of another class ends the run.
 * - **asystole**: no detected beat for at least `asystoleSeconds` (4 s). Fed by `detection` events (R-peaks
 *   from the QRS detector, before classification, so the alarm does not wait for the classifier's
 *   segmentation window) and `progress` events, a per-source watermark saying that every detection before
 *   `timeMs` has been delivered. A pause is only measured inside a contiguous segment: a `progress` event
 *   that opens a segment (after a gap in the data, or at the start) restarts the clock, so missing data is
 *   never mistaken for asystole.
 *
 * One alert per episode: a VT episode ends with the first non-V beat, an asystole episode with the next
 * detected beat. Events that repeat or go back in time for a source (redeliveries) are ignored. All time
 * is signal time (acquisition times carried by the events), never the wall clock, so the operator is
 * deterministic and can be tested in virtual time. Memory per source is bounded (`maxRunBeats`). Pure: no
 * I/O, no clock, no scheduler.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { SignalBlock } from './types';

/** A classified beat, in R-peak order per source. */
export interface RhythmBeatEvent {
  type: 'beat';
  sourceId: string;
  rPeakSampleIndex: number;
  rPeakTimeMs: number;
  beatClass: string;
  modelVersion?: string | null;
}

/** A detected R-peak (not yet classified), in order per source. */
export interface RhythmDetectionEvent {
  type: 'detection';
  sourceId: string;
  rPeakSampleIndex: number;
  rPeakTimeMs: number;
}

/** Watermark: every detection of the source before `timeMs` has been delivered. */
export interface RhythmProgressEvent {
  type: 'progress';
  sourceId: string;
  /** Signal time up to which detections are complete. */
  timeMs: number;
  /** Sample index matching `timeMs` (source numbering). */
  sampleIndex: number;
  /** Set when a contiguous segment starts here (first data, or data after a gap): its start time and sample. */
  segmentStart?: { timeMs: number; sampleIndex: number };
  /** The contiguous segment ends here (a gap in the data, or the end of the stream): stop measuring. */
  segmentEnd?: boolean;
}

export type RhythmEvent = RhythmBeatEvent | RhythmDetectionEvent | RhythmProgressEvent;

export type RhythmAlertKind = 'ventricular-tachycardia' | 'asystole';

export interface RhythmAlertBeat {
  rPeakSampleIndex: number;
  rPeakTimeMs: number;
  /** Null for detected, unclassified beats. */
  beatClass: string | null;
}

export interface RhythmAlert {
  kind: RhythmAlertKind;
  sourceId: string;
  /** VT: first beat of the run; asystole: last beat before the pause (or the segment start). */
  onsetSampleIndex: number;
  onsetTimeMs: number;
  /** Signal time at which the criterion was met. */
  detectedTimeMs: number;
  heartRateBpm: number | null;
  pauseSeconds: number | null;
  beats: RhythmAlertBeat[];
  modelVersion: string | null;
}

export interface RhythmAlertOptions {
  /** Default 3. */
  vtMinBeats?: number;
  /** Default 100 bpm. */
  vtMinRateBpm?: number;
  /** Default 'V'. */
  vtClass?: string;
  /** Default 4 s. */
  asystoleSeconds?: number;
  /** Most beats of a run kept for the alert (default 32). */
  maxRunBeats?: number;
}

interface SourceState {
  run: RhythmBeatEvent[];
  vtAlerted: boolean;
  lastBeatIndex: number;
  lastDetection: RhythmDetectionEvent | undefined;
  /** Start of the current pause: the last detection, or the segment start. */
  pauseFrom: { timeMs: number; sampleIndex: number } | undefined;
  asystoleAlerted: boolean;
}

/**
 * Raise VT and asystole alerts from per-source rhythm events.
 *
 * @example
 * merge(detections$, classifiedBeats$).pipe(rhythmAlerts({ asystoleSeconds: 4 })).subscribe(publish);
 */
export function rhythmAlerts(options: RhythmAlertOptions = {}): OperatorFunction<RhythmEvent, RhythmAlert> {
  const vtMinBeats = options.vtMinBeats ?? 3;
  const vtMinRateBpm = options.vtMinRateBpm ?? 100;
  const vtClass = options.vtClass ?? 'V';
  const asystoleMs = (options.asystoleSeconds ?? 4) * 1000;
  const maxRunBeats = Math.max(vtMinBeats, options.maxRunBeats ?? 32);
  if (!Number.isInteger(vtMinBeats) || vtMinBeats < 2)
    throw new RangeError(`vtMinBeats must be an integer >= 2, got ${vtMinBeats}`);
  if (!(vtMinRateBpm > 0)) throw new RangeError(`vtMinRateBpm must be positive, got ${vtMinRateBpm}`);
  if (!(asystoleMs > 0))
    throw new RangeError(`asystoleSeconds must be positive, got ${options.asystoleSeconds}`);

  return (source) =>
    new Observable<RhythmAlert>((subscriber) => {
      const states = new Map<string, SourceState>();
      const stateOf = (sourceId: string): SourceState => {
        let s = states.get(sourceId);
        if (s === undefined) {
          s = {
            run: [],
            vtAlerted: false,
            lastBeatIndex: -Infinity,
            lastDetection: undefined,
            pauseFrom: undefined,
            asystoleAlerted: false,
          };
          states.set(sourceId, s);
        }
        return s;
      };

      const onBeat = (e: RhythmBeatEvent) => {
        const s = stateOf(e.sourceId);
        if (e.rPeakSampleIndex <= s.lastBeatIndex) return; // a redelivered or out-of-order beat
        s.lastBeatIndex = e.rPeakSampleIndex;
        if (e.beatClass !== vtClass) {
          s.run = [];
          s.vtAlerted = false;
          return;
        }
        s.run.push(e);
        if (s.run.length > maxRunBeats) s.run.shift();
        if (s.vtAlerted || s.run.length < vtMinBeats) return;
        const first = s.run[s.run.length - vtMinBeats];
        const meanRrMs = (e.rPeakTimeMs - first.rPeakTimeMs) / (vtMinBeats - 1);
        const rate = meanRrMs > 0 ? 60_000 / meanRrMs : Infinity;
        if (rate < vtMinRateBpm) return;
        s.vtAlerted = true;
        const beats = s.run.slice(s.run.length - vtMinBeats);
        subscriber.next({
          kind: 'ventricular-tachycardia',
          sourceId: e.sourceId,
          onsetSampleIndex: first.rPeakSampleIndex,
          onsetTimeMs: first.rPeakTimeMs,
          detectedTimeMs: e.rPeakTimeMs,
          heartRateBpm: rate,
          pauseSeconds: null,
          beats: beats.map((b) => ({
            rPeakSampleIndex: b.rPeakSampleIndex,
            rPeakTimeMs: b.rPeakTimeMs,
            beatClass: b.beatClass,
          })),
          modelVersion: e.modelVersion ?? null,
        });
      };

      const onDetection = (e: RhythmDetectionEvent) => {
        const s = stateOf(e.sourceId);
        if (s.lastDetection !== undefined && e.rPeakSampleIndex <= s.lastDetection.rPeakSampleIndex) return;
        s.lastDetection = e;
        s.pauseFrom = { timeMs: e.rPeakTimeMs, sampleIndex: e.rPeakSampleIndex };
        s.asystoleAlerted = false;
      };

      const onProgress = (e: RhythmProgressEvent) => {
        const s = stateOf(e.sourceId);
        if (e.segmentStart !== undefined) {
          // Data before this point is missing or unusable: measure pauses from here, not across the gap.
          s.lastDetection = undefined;
          s.pauseFrom = { ...e.segmentStart };
          s.asystoleAlerted = false;
        }
        const from = s.pauseFrom;
        if (from !== undefined && !s.asystoleAlerted && e.timeMs - from.timeMs >= asystoleMs) {
          s.asystoleAlerted = true;
          const last = s.lastDetection;
          subscriber.next({
            kind: 'asystole',
            sourceId: e.sourceId,
            onsetSampleIndex: from.sampleIndex,
            onsetTimeMs: from.timeMs,
            detectedTimeMs: from.timeMs + asystoleMs,
            heartRateBpm: null,
            pauseSeconds: (e.timeMs - from.timeMs) / 1000,
            beats:
              last === undefined
                ? []
                : [
                    {
                      rPeakSampleIndex: last.rPeakSampleIndex,
                      rPeakTimeMs: last.rPeakTimeMs,
                      beatClass: null,
                    },
                  ],
            modelVersion: null,
          });
        }
        if (e.segmentEnd === true) {
          // No pause is measured past the end of the signal. The VT state stays (a few beats): the
          // segment's last beats are classified after its signal ends.
          s.pauseFrom = undefined;
          s.lastDetection = undefined;
        }
      };

      const subscription = source.subscribe({
        next: (e) => {
          try {
            if (e.type === 'beat') onBeat(e);
            else if (e.type === 'detection') onDetection(e);
            else onProgress(e);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          states.clear();
          subscriber.complete();
        },
      });
      return () => subscription.unsubscribe();
    });
}

/**
 * The rhythm events carried by one block after `detectQrs`: its detected R-peaks and a watermark at the
 * block's end (detectQrs holds samples back until their detections are final, so every detection before
 * the end of an emitted block has been emitted). For a `tap` between `detectQrs` and segmentation.
 *
 * @example
 * blocks$.pipe(detectQrs(), tap((b) => rhythmEventsFromBlock(b).forEach((e) => rhythm.next(e))), segmentBeats(...))
 */
export function rhythmEventsFromBlock(block: SignalBlock): RhythmEvent[] {
  const out: RhythmEvent[] = [];
  const toSource = block.sourceSampleRateHz / block.sampleRateHz;
  const timeAt = (index: number) => block.originTimeMs + (1000 * index) / block.sampleRateHz;
  if (block.segmentStart) {
    out.push({
      type: 'progress',
      sourceId: block.sourceId,
      timeMs: timeAt(block.firstSampleIndex),
      sampleIndex: Math.round(block.firstSampleIndex * toSource),
      segmentStart: {
        timeMs: timeAt(block.firstSampleIndex),
        sampleIndex: Math.round(block.firstSampleIndex * toSource),
      },
    });
  }
  for (const m of block.marks) {
    if (m.origin !== 'detector') continue;
    out.push({
      type: 'detection',
      sourceId: block.sourceId,
      rPeakSampleIndex: m.sourceSampleIndex,
      rPeakTimeMs: block.originTimeMs + (1000 * m.sourceSampleIndex) / block.sourceSampleRateHz,
    });
  }
  const end = block.firstSampleIndex + block.samples.length;
  out.push({
    type: 'progress',
    sourceId: block.sourceId,
    timeMs: timeAt(end),
    sampleIndex: Math.round(end * toSource),
    segmentEnd: block.segmentEnd || block.endOfStream ? true : undefined,
  });
  return out;
}
