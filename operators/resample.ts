/**
 * `resample`: signal blocks at any rate -> blocks at `outputRateHz`, with an anti-aliasing polyphase
 * windowed-sinc filter (src/dsp/resampler.ts). Per source and segment; blocks already at the output rate
 * pass through untouched.
 *
 * Delay: none in the numbering (output index j is the signal at input time j * inRate / outRate);
 * look-ahead (latency) = `Resampler.latencyInputSamples` input samples: 54 at 360 -> 125 Hz with the
 * defaults (0.15 s). Marks are re-indexed to the output numbering (fractional positions) and ride on the
 * output block holding their position. Segment edges are extended with the edge values.
 */
import type { OperatorFunction } from 'rxjs';
import { Resampler, type ResamplerConfig } from '../src/dsp/resampler';
import { perSourceBlocks } from './internal/perSource';
import type { SignalBlock, StreamMark } from './types';

interface State {
  resampler: Resampler | undefined;
  ratio: number;
  pending: StreamMark[];
  started: boolean;
  lastBlock: SignalBlock | undefined;
}

/**
 * Resample every source to `outputRateHz`.
 *
 * @example
 * blocks$.pipe(resample(125)) // 360 Hz MIT-BIH -> 125 Hz, as the seed paper's beats
 */
export function resample(
  outputRateHz: number,
  config: Partial<ResamplerConfig> = {},
): OperatorFunction<SignalBlock, SignalBlock> {
  if (!(outputRateHz > 0) || !Number.isFinite(outputRateHz))
    throw new RangeError(`outputRateHz must be a positive number, got ${outputRateHz}`);

  const emit = (
    state: State,
    block: SignalBlock,
    firstIndex: number,
    samples: Float64Array,
    last: boolean,
    push: (b: SignalBlock) => void,
  ) => {
    const end = firstIndex + samples.length;
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
    if (samples.length === 0 && marks.length === 0 && !last) return;
    push({
      ...block,
      sampleRateHz: outputRateHz,
      firstSampleIndex: firstIndex,
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
      resampler:
        block.sampleRateHz === outputRateHz
          ? undefined
          : new Resampler(block.sampleRateHz, outputRateHz, block.firstSampleIndex, config),
      ratio: outputRateHz / block.sampleRateHz,
      pending: [],
      started: false,
      lastBlock: undefined,
    }),
    next: (state, block, push) => {
      state.lastBlock = block;
      const r = state.resampler;
      if (r === undefined) {
        push(block);
        return;
      }
      for (const m of block.marks) state.pending.push({ ...m, sampleIndex: m.sampleIndex * state.ratio });
      const firstIndex = r.nextOutputIndex;
      const out = r.process(block.samples);
      const last = block.segmentEnd || block.endOfStream;
      if (!last) {
        emit(state, block, firstIndex, out, false, push);
        return;
      }
      const tail = r.finish();
      const all = new Float64Array(out.length + tail.length);
      all.set(out);
      all.set(tail, out.length);
      emit(state, block, firstIndex, all, true, push);
    },
    flush: (state, push) => {
      const r = state.resampler;
      if (r === undefined || !state.lastBlock) return;
      const firstIndex = r.nextOutputIndex;
      emit(state, { ...state.lastBlock, endOfStream: false }, firstIndex, r.finish(), true, push);
    },
  });
}
