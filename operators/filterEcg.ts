/**
 * `filterEcg`: baseline-wander and noise removal with a known, constant group delay
 * (src/dsp/ecgFilter.ts): a Kaiser windowed-sinc low-pass (default 40 Hz) and the signal minus its
 * baseline (two cascaded 1 s moving averages). Linear phase, so QRS and ST shapes are preserved.
 *
 * Delay: compensated in the numbering (output n is the filtered signal at input time n); look-ahead =
 * `EcgFilter.delaySamples`: (lowpass taps - 1) / 2 + (baseline window - 1) samples, e.g. 14 + 124 = 138
 * samples (1.1 s) at 125 Hz. Marks ride on the output block holding their position. Segment edges are
 * extended with the edge values.
 */
import type { OperatorFunction } from 'rxjs';
import { EcgFilter, type EcgFilterConfig } from '../src/dsp/ecgFilter';
import { perSourceBlocks } from './internal/perSource';
import type { SignalBlock, StreamMark } from './types';

interface State {
  filter: EcgFilter;
  nextIndex: number;
  pending: StreamMark[];
  started: boolean;
  lastBlock: SignalBlock | undefined;
}

/**
 * Filter every source's signal.
 *
 * @example
 * blocks$.pipe(resample(125), filterEcg({ lowpassCutoffHz: 35 }))
 */
export function filterEcg(config: Partial<EcgFilterConfig> = {}): OperatorFunction<SignalBlock, SignalBlock> {
  const emit = (
    state: State,
    block: SignalBlock,
    samples: Float64Array,
    last: boolean,
    push: (b: SignalBlock) => void,
  ) => {
    const first = state.nextIndex;
    const end = first + samples.length;
    let marks: StreamMark[];
    if (last) {
      marks = state.pending;
      state.pending = [];
    } else {
      marks = [];
      const keep: StreamMark[] = [];
      for (const m of state.pending) (Math.round(m.sampleIndex) < end ? marks : keep).push(m);
      state.pending = keep;
    }
    state.nextIndex = end;
    if (samples.length === 0 && marks.length === 0 && !last) return;
    push({
      ...block,
      firstSampleIndex: first,
      samples,
      marks,
      segmentStart: !state.started,
      segmentEnd: last,
      endOfStream: last && block.endOfStream,
    });
    state.started = true;
  };

  return perSourceBlocks<State, SignalBlock>({
    create: (block) => ({
      filter: new EcgFilter(block.sampleRateHz, config),
      nextIndex: block.firstSampleIndex,
      pending: [],
      started: false,
      lastBlock: undefined,
    }),
    next: (state, block, push) => {
      state.lastBlock = block;
      state.pending.push(...block.marks);
      const out = state.filter.process(block.samples);
      const last = block.segmentEnd || block.endOfStream;
      if (!last) {
        emit(state, block, out, false, push);
        return;
      }
      const tail = state.filter.finish();
      const all = new Float64Array(out.length + tail.length);
      all.set(out);
      all.set(tail, out.length);
      emit(state, block, all, true, push);
    },
    flush: (state, push) => {
      if (state.lastBlock === undefined) return;
      emit(state, { ...state.lastBlock, endOfStream: false }, state.filter.finish(), true, push);
    },
  });
}
