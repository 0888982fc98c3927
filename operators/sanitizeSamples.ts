/**
 * `sanitizeSamples`: raw sample chunks -> clean signal blocks, the entry point of every signal pipeline.
 * It converts digital samples to millivolts ((x - baselineAdu) / gainAduPerMv) and makes the stream safe
 * for the stateful operators downstream:
 * - sequence numbers and sample indices are checked per source: a duplicated chunk is dropped, an
 *   overlapping one is trimmed, a gap (lost chunks or samples) ends the segment;
 * - a change of sampling rate ends the segment, and a new one starts at the new rate;
 * - NaN/infinite samples, flat lines and saturation (see src/dsp/signalQuality.ts) are cut out: the
 *   segment ends before the span and a new one starts after it;
 * - an invalid chunk (non-positive rate or gain, non-integer index) is skipped.
 * Every such span or chunk is reported once on the `events` side output (a span when it ends, so its
 * length is known) and never crashes the stream. Annotations inside a skipped span are dropped (the
 * event says how many). Look-ahead: none.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import {
  SAMPLE_FLAT_LINE,
  SAMPLE_NON_FINITE,
  SAMPLE_OK,
  SAMPLE_SATURATED,
  SignalQualityTracker,
} from '../src/dsp/signalQuality';
import type {
  ChunkAnnotation,
  SampleChunkLike,
  SignalBlock,
  SignalEvent,
  SignalEventKind,
  SignalEventSink,
  StreamMark,
} from './types';

export interface SanitizeOptions {
  /** Longest run of identical samples accepted (s). */
  flatLineSeconds?: number;
  /** Longest run at the converter's limits accepted (s). */
  saturationSeconds?: number;
  /** Inclusive ADC limits (digital units) when known; otherwise the running extremes are used. */
  adcRange?: readonly [number, number];
  /** Side output for bad-input events. */
  events?: SignalEventSink;
}

const OPERATOR = 'sanitizeSamples';
const DEFAULT_FLAT_LINE_SECONDS = 0.5;
const DEFAULT_SATURATION_SECONDS = 0.08;

interface OpenSpan {
  kind: SignalEventKind;
  from: number;
  count: number;
  marks: number;
  sequenceNumber: number;
}

interface SourceState {
  rate: number;
  nextSequence: number;
  nextIndex: number;
  tracker: SignalQualityTracker;
  span: OpenSpan | undefined;
  /** A block has been emitted and its segment not yet closed. */
  segmentOpen: boolean;
  originTimeMs: number;
  flags: Uint8Array;
}

const FLAG_KIND: Record<number, SignalEventKind> = {
  [SAMPLE_NON_FINITE]: 'non-finite',
  [SAMPLE_FLAT_LINE]: 'flat-line',
  [SAMPLE_SATURATED]: 'saturation',
};

/**
 * Validate and convert raw chunks into signal blocks, skipping and reporting bad input.
 *
 * @example
 * const events = new Subject<SignalEvent>();
 * events.subscribe((e) => log(`${e.sourceId}: ${e.kind} ${e.detail}`));
 * chunks$.pipe(sanitizeSamples({ events }), detectQrs()).subscribe(...);
 */
export function sanitizeSamples(
  options: SanitizeOptions = {},
): OperatorFunction<SampleChunkLike, SignalBlock> {
  const flatLineSeconds = options.flatLineSeconds ?? DEFAULT_FLAT_LINE_SECONDS;
  const saturationSeconds = options.saturationSeconds ?? DEFAULT_SATURATION_SECONDS;
  return (source) =>
    new Observable<SignalBlock>((subscriber) => {
      const states = new Map<string, SourceState>();
      const report = (event: Omit<SignalEvent, 'operator'>) =>
        options.events?.next({ ...event, operator: OPERATOR });

      const newState = (chunk: SampleChunkLike): SourceState => ({
        rate: chunk.sampleRateHz,
        nextSequence: chunk.sequenceNumber,
        nextIndex: chunk.firstSampleIndex,
        tracker: new SignalQualityTracker({
          flatLineSamples: Math.max(2, Math.round(flatLineSeconds * chunk.sampleRateHz)),
          saturationSamples: Math.max(2, Math.round(saturationSeconds * chunk.sampleRateHz)),
          adcRange: options.adcRange,
        }),
        span: undefined,
        segmentOpen: false,
        originTimeMs: 0,
        flags: new Uint8Array(1024),
      });

      const closeSpan = (sourceId: string, state: SourceState) => {
        const span = state.span;
        if (span === undefined) return;
        state.span = undefined;
        report({
          sourceId,
          kind: span.kind,
          firstSampleIndex: span.from,
          sampleCount: span.count,
          sequenceNumber: span.sequenceNumber,
          detail: `${span.count} samples skipped${span.marks > 0 ? `, ${span.marks} annotations in them dropped` : ''}`,
        });
      };

      const emptyBlock = (
        chunk: SampleChunkLike,
        state: SourceState,
        index: number,
        endOfStream: boolean,
      ): SignalBlock => ({
        sourceId: chunk.sourceId,
        sampleRateHz: state.rate,
        sourceSampleRateHz: state.rate,
        firstSampleIndex: index,
        samples: new Float64Array(0),
        marks: [],
        originTimeMs: state.originTimeMs,
        segmentStart: false,
        segmentEnd: true,
        endOfStream,
      });

      /** Close the open segment (if any) with an empty block. */
      const endSegment = (chunk: SampleChunkLike, state: SourceState, endOfStream = false) => {
        if (state.segmentOpen) {
          state.segmentOpen = false;
          subscriber.next(emptyBlock(chunk, state, state.nextIndex, endOfStream));
        } else if (endOfStream) {
          subscriber.next(emptyBlock(chunk, state, state.nextIndex, true));
        }
      };

      const finishSource = (chunk: SampleChunkLike, state: SourceState) => {
        closeSpan(chunk.sourceId, state);
        states.delete(chunk.sourceId);
      };

      const onChunk = (chunk: SampleChunkLike) => {
        let state = states.get(chunk.sourceId);
        const valid =
          Number.isFinite(chunk.sampleRateHz) &&
          chunk.sampleRateHz > 0 &&
          Number.isFinite(chunk.gainAduPerMv) &&
          chunk.gainAduPerMv !== 0 &&
          Number.isFinite(chunk.baselineAdu) &&
          Number.isSafeInteger(chunk.firstSampleIndex) &&
          chunk.firstSampleIndex >= 0;
        if (!valid) {
          report({
            sourceId: chunk.sourceId,
            kind: 'invalid-chunk',
            firstSampleIndex: Number.isFinite(chunk.firstSampleIndex) ? chunk.firstSampleIndex : -1,
            sampleCount: chunk.samples.length,
            sequenceNumber: chunk.sequenceNumber,
            detail: `chunk skipped: sampleRateHz ${chunk.sampleRateHz}, gainAduPerMv ${chunk.gainAduPerMv}, baselineAdu ${chunk.baselineAdu}, firstSampleIndex ${chunk.firstSampleIndex}`,
          });
          if (state !== undefined) {
            closeSpan(chunk.sourceId, state);
            endSegment(chunk, state, chunk.endOfStream);
            if (chunk.endOfStream) finishSource(chunk, state);
          }
          return;
        }

        if (state === undefined) {
          state = newState(chunk);
          states.set(chunk.sourceId, state);
          if (chunk.sequenceNumber !== 0 || chunk.firstSampleIndex !== 0) {
            report({
              sourceId: chunk.sourceId,
              kind: 'late-join',
              firstSampleIndex: chunk.firstSampleIndex,
              sampleCount: 0,
              sequenceNumber: chunk.sequenceNumber,
              detail: `stream joined at chunk ${chunk.sequenceNumber}, sample ${chunk.firstSampleIndex} (e.g. a restart after committed offsets)`,
            });
          }
        } else if (chunk.sampleRateHz !== state.rate) {
          report({
            sourceId: chunk.sourceId,
            kind: 'sample-rate-change',
            firstSampleIndex: chunk.firstSampleIndex,
            sampleCount: 0,
            sequenceNumber: chunk.sequenceNumber,
            detail: `sampling rate changed from ${state.rate} Hz to ${chunk.sampleRateHz} Hz; a new segment starts`,
          });
          closeSpan(chunk.sourceId, state);
          endSegment(chunk, state);
          state = newState(chunk);
          states.set(chunk.sourceId, state);
        }

        if (chunk.sequenceNumber > state.nextSequence) {
          report({
            sourceId: chunk.sourceId,
            kind: 'sequence-gap',
            firstSampleIndex: chunk.firstSampleIndex,
            sampleCount: 0,
            sequenceNumber: chunk.sequenceNumber,
            detail: `${chunk.sequenceNumber - state.nextSequence} chunk(s) missing before chunk ${chunk.sequenceNumber}`,
          });
        }
        state.nextSequence = Math.max(state.nextSequence, chunk.sequenceNumber + 1);

        // Sample-index continuity: duplicates and overlaps are trimmed, gaps end the segment.
        let skip = state.nextIndex - chunk.firstSampleIndex;
        const length = chunk.samples.length;
        if (skip > 0 && skip >= length && length > 0) {
          report({
            sourceId: chunk.sourceId,
            kind: 'duplicate-chunk',
            firstSampleIndex: chunk.firstSampleIndex,
            sampleCount: length,
            sequenceNumber: chunk.sequenceNumber,
            detail: `chunk ${chunk.sequenceNumber} repeats samples already received; dropped`,
          });
          return;
        }
        if (skip > 0) {
          report({
            sourceId: chunk.sourceId,
            kind: 'sample-overlap',
            firstSampleIndex: chunk.firstSampleIndex,
            sampleCount: skip,
            sequenceNumber: chunk.sequenceNumber,
            detail: `${skip} samples overlap the previous chunk; the repeated ones were dropped`,
          });
        } else if (skip < 0) {
          report({
            sourceId: chunk.sourceId,
            kind: 'sample-gap',
            firstSampleIndex: state.nextIndex,
            sampleCount: 0,
            sequenceNumber: chunk.sequenceNumber,
            detail: `${-skip} samples missing before sample ${chunk.firstSampleIndex}; the segment ends`,
          });
          closeSpan(chunk.sourceId, state);
          endSegment(chunk, state);
          skip = 0;
        }
        const start = chunk.firstSampleIndex + skip;
        const n = length - skip;
        if (state.flags.length < n) state.flags = new Uint8Array(Math.max(n, 2 * state.flags.length));
        const flags = state.flags;
        const raw = skip === 0 ? chunk.samples : Array.prototype.slice.call(chunk.samples, skip);
        state.tracker.classify(raw, flags);

        const annotations =
          skip === 0 ? chunk.annotations : chunk.annotations.filter((a) => a.sampleIndex >= start);
        const scale = 1 / chunk.gainAduPerMv;
        const baseline = chunk.baselineAdu;
        let endOfStreamSent = false;
        let i = 0;
        while (i < n) {
          const flag = flags[i];
          let j = i + 1;
          while (j < n && flags[j] === flag) j++;
          if (flag === SAMPLE_OK) {
            closeSpan(chunk.sourceId, state);
            const samples = new Float64Array(j - i);
            for (let t = 0; t < samples.length; t++) samples[t] = (Number(raw[i + t]) - baseline) * scale;
            const segmentStart = !state.segmentOpen;
            if (segmentStart) {
              state.originTimeMs =
                chunk.acquisitionTimeMs - (1000 * chunk.firstSampleIndex) / chunk.sampleRateHz;
            }
            const endOfStream = chunk.endOfStream && j === n;
            const segmentEnd = j < n || endOfStream;
            const from = start + i;
            const to = start + j;
            const marks: StreamMark[] = [];
            for (const a of annotations) {
              const at = a.sampleIndex;
              // Marks before the chunk ride on its first block, marks after it on its last one.
              if ((at >= from && at < to) || (i === 0 && at < start) || (j === n && at >= start + n)) {
                marks.push(toMark(a));
              }
            }
            subscriber.next({
              sourceId: chunk.sourceId,
              sampleRateHz: state.rate,
              sourceSampleRateHz: state.rate,
              firstSampleIndex: from,
              samples,
              marks,
              originTimeMs: state.originTimeMs,
              segmentStart,
              segmentEnd,
              endOfStream,
            });
            state.segmentOpen = !segmentEnd;
            endOfStreamSent = endOfStream;
          } else {
            const kind = FLAG_KIND[flag];
            if (state.span !== undefined && state.span.kind !== kind) closeSpan(chunk.sourceId, state);
            if (state.segmentOpen) {
              state.segmentOpen = false;
              subscriber.next(emptyBlock(chunk, state, start + i, false));
            }
            state.span ??= {
              kind,
              from: start + i,
              count: 0,
              marks: 0,
              sequenceNumber: chunk.sequenceNumber,
            };
            state.span.count += j - i;
            for (const a of annotations)
              if (a.sampleIndex >= start + i && a.sampleIndex < start + j) state.span.marks++;
          }
          i = j;
        }
        state.nextIndex = start + n;
        if (chunk.endOfStream) {
          if (!endOfStreamSent) endSegment(chunk, state, true);
          finishSource(chunk, state);
        }
      };

      const subscription = source.subscribe({
        next: (chunk) => {
          try {
            onChunk(chunk);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          for (const [sourceId, state] of states) {
            if (state.span !== undefined) closeSpan(sourceId, state);
          }
          states.clear();
          subscriber.complete();
        },
      });
      return () => subscription.unsubscribe();
    });
}

function toMark(a: ChunkAnnotation): StreamMark {
  return {
    sampleIndex: a.sampleIndex,
    sourceSampleIndex: a.sampleIndex,
    symbol: a.symbol,
    aux: a.aux,
    origin: 'reference',
  };
}
