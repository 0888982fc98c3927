/**
 * `detectQrs`: signal blocks -> the same blocks with detected R-peaks added as marks (origin
 * `detector`, symbol `N` as WFDB's own detectors label beats), by the streaming detector of
 * src/dsp/qrsDetector.ts, one per source and segment, at the blocks' own sampling rate.
 *
 * Look-ahead: the detector decides a beat at most `maxLatencySamples` after it (about 4.5 s with the
 * defaults: the learning period of its first seconds, and search-back, dominate); this operator holds
 * the samples back by that much, so every detection still rides on the block that holds its samples.
 * Sample numbering and values are unchanged.
 */
import type { OperatorFunction } from 'rxjs';
import { QrsDetector, type QrsDetection, type QrsDetectorConfig } from '../src/dsp/qrsDetector';
import { perSourceBlocks } from './internal/perSource';
import type { SignalBlock, StreamMark } from './types';

interface State {
  detector: QrsDetector;
  /** Samples not yet emitted, from index heldStart. */
  held: Float64Array;
  heldLength: number;
  heldStart: number;
  segmentStart: number;
  pending: StreamMark[];
  started: boolean;
  detections: QrsDetection[];
  lastBlock: SignalBlock | undefined;
}

/**
 * Detect QRS complexes in every source.
 *
 * @example
 * blocks$.pipe(detectQrs()).subscribe((b) => b.marks.filter((m) => m.origin === 'detector'));
 */
export function detectQrs(
  config: Partial<QrsDetectorConfig> = {},
): OperatorFunction<SignalBlock, SignalBlock> {
  const emitUpTo = (
    state: State,
    block: SignalBlock,
    end: number,
    last: boolean,
    push: (b: SignalBlock) => void,
  ) => {
    const count = Math.max(0, Math.min(end - state.heldStart, state.heldLength));
    let marks: StreamMark[];
    if (last) {
      marks = state.pending;
      state.pending = [];
    } else {
      marks = [];
      const keep: StreamMark[] = [];
      const until = state.heldStart + count;
      for (const m of state.pending) (Math.round(m.sampleIndex) < until ? marks : keep).push(m);
      state.pending = keep;
    }
    if (count === 0 && marks.length === 0 && !last) return;
    if (marks.length > 1) marks.sort((a, b) => a.sampleIndex - b.sampleIndex);
    const samples = state.held.slice(0, count);
    state.held.copyWithin(0, count, state.heldLength);
    state.heldLength -= count;
    push({
      ...block,
      firstSampleIndex: state.heldStart,
      samples,
      marks,
      segmentStart: !state.started,
      segmentEnd: last,
      endOfStream: last && block.endOfStream,
    });
    state.heldStart += count;
    state.started = true;
  };

  const addDetections = (state: State, block: SignalBlock) => {
    const rate = block.sampleRateHz;
    const toSource = block.sourceSampleRateHz / rate;
    for (const d of state.detections) {
      const at = state.segmentStart + d.sampleIndex;
      state.pending.push({
        sampleIndex: at,
        sourceSampleIndex: Math.round(at * toSource),
        symbol: 'N',
        aux: d.searchBack ? 'search-back' : null,
        origin: 'detector',
      });
    }
    state.detections.length = 0;
  };

  return perSourceBlocks<State, SignalBlock>({
    create: (block) => ({
      detector: new QrsDetector(block.sampleRateHz, config),
      held: new Float64Array(1024),
      heldLength: 0,
      heldStart: block.firstSampleIndex,
      segmentStart: block.firstSampleIndex,
      pending: [],
      started: false,
      detections: [],
      lastBlock: undefined,
    }),
    next: (state, block, push) => {
      state.lastBlock = block;
      const n = block.samples.length;
      if (state.heldLength + n > state.held.length) {
        const grown = new Float64Array(Math.max(state.heldLength + n, 2 * state.held.length));
        grown.set(state.held.subarray(0, state.heldLength));
        state.held = grown;
      }
      state.held.set(block.samples, state.heldLength);
      state.heldLength += n;
      state.pending.push(...block.marks);
      state.detector.push(block.samples, state.detections);
      const last = block.segmentEnd || block.endOfStream;
      if (last) state.detector.finish(state.detections);
      addDetections(state, block);
      const received = block.firstSampleIndex + n;
      emitUpTo(state, block, last ? received : received - state.detector.maxLatencySamples, last, push);
    },
    flush: (state, push) => {
      if (state.lastBlock === undefined) return;
      state.detector.finish(state.detections);
      addDetections(state, state.lastBlock);
      emitUpTo(
        state,
        { ...state.lastBlock, endOfStream: false },
        state.heldStart + state.heldLength,
        true,
        push,
      );
    },
  });
}
