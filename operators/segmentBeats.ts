/**
 * `segmentBeats`: signal blocks -> beats, cut around R-peaks taken either from reference annotations
 * (`rPeaks: 'reference'`, replay and training: each beat keeps its WFDB symbol) or from the detector
 * (`rPeaks: 'detector'`, live: put `detectQrs()` before it). The default beat form is Kachuee et al.'s
 * (10 s windows min-max normalised, 1.2 x median RR from the R-peak, zero-padded to 187 samples); a
 * centred window is the alternative (src/dsp/beatWindows.ts). Beats are cut at the blocks' own rate:
 * resample first (125 Hz for the seed paper's beats).
 *
 * A beat never spans a segment boundary (gap, skipped span, rate change): windows restart with every
 * segment and beats are zero-padded at its end. Look-ahead: a window's beats are complete once the
 * samples up to its end plus `beatSamples` (Kachuee) or half of it (centred) have arrived: 10 s + 1.5 s
 * at 125 Hz. R-peaks that fall outside the signal are reported as `marks-dropped` events.
 *
 * Every beat carries its RR intervals (pre, post, local and long-term means; src/dsp/rrIntervals.ts) and
 * its shape compared with the source's dominant-beat template (src/dsp/beatTemplate.ts), both restarted
 * with every segment like the windows: an interval across a gap would be meaningless.
 */
import type { OperatorFunction } from 'rxjs';
import { BeatWindowSegmenter, type BeatWindowConfig } from '../src/dsp/beatWindows';
import { BeatTemplate } from '../src/dsp/beatTemplate';
import { RrTracker } from '../src/dsp/rrIntervals';
import { perSourceBlocks } from './internal/perSource';
import type { SegmentedBeat, SignalBlock, SignalEventSink, StreamMark } from './types';

export interface SegmentBeatsOptions extends Partial<BeatWindowConfig> {
  /** Which marks are R-peaks. */
  rPeaks: 'reference' | 'detector';
  /** Reference annotations: which symbols are beats (required for `reference`). */
  isBeat?: (symbol: string) => boolean;
  /** Reference annotations: the class of a beat symbol (e.g. its AAMI class), put on each beat. */
  classOf?: (symbol: string) => string | undefined;
  events?: SignalEventSink;
}

interface State {
  segmenter: BeatWindowSegmenter<StreamMark>;
  rr: RrTracker;
  template: BeatTemplate;
  block: SignalBlock;
}

/**
 * Cut beats.
 *
 * @example
 * chunks$.pipe(sanitizeSamples(), resample(125), segmentBeats({ rPeaks: 'reference', isBeat, classOf: aamiClass }))
 */
export function segmentBeats(options: SegmentBeatsOptions): OperatorFunction<SignalBlock, SegmentedBeat> {
  const { rPeaks, isBeat, classOf, events, ...windowConfig } = options;
  if (rPeaks === 'reference' && isBeat === undefined)
    throw new TypeError(
      'segmentBeats: rPeaks "reference" needs isBeat(symbol) to tell beats from other annotations',
    );
  const isPeak = (m: StreamMark): boolean =>
    rPeaks === 'detector'
      ? m.origin === 'detector'
      : m.origin === 'reference' && (isBeat as (s: string) => boolean)(m.symbol);

  const toBeats = (
    state: State,
    beats: ReturnType<BeatWindowSegmenter<StreamMark>['finish']>,
    push: (b: SegmentedBeat) => void,
  ) => {
    const b = state.block;
    for (const beat of beats) {
      const mark = beat.payload;
      push({
        sourceId: b.sourceId,
        rPeakIndex: beat.rPeakIndex,
        rPeakSourceIndex: mark.sourceSampleIndex,
        rPeakTimeMs: Math.round(b.originTimeMs + (1000 * mark.sourceSampleIndex) / b.sourceSampleRateHz),
        sourceSampleRateHz: b.sourceSampleRateHz,
        beatSampleRateHz: b.sampleRateHz,
        samples: beat.samples,
        rr: state.rr.next(beat.rPeakIndex, beat.nextRPeakIndex),
        morphology: state.template.next(beat.samples, beat.rPeakOffset),
        rrSamples: beat.rrSamples,
        origin: mark.origin,
        symbol: mark.origin === 'reference' ? mark.symbol : null,
        beatClass: mark.origin === 'reference' ? (classOf?.(mark.symbol) ?? null) : null,
      });
    }
  };

  const close = (state: State, push: (b: SegmentedBeat) => void) => {
    toBeats(state, state.segmenter.finish(), push);
    const dropped = state.segmenter.dropped;
    if (dropped > 0) {
      events?.next({
        sourceId: state.block.sourceId,
        kind: 'marks-dropped',
        operator: 'segmentBeats',
        firstSampleIndex: Math.round(
          state.segmenter.segmentStart * (state.block.sourceSampleRateHz / state.block.sampleRateHz),
        ),
        sampleCount: 0,
        detail: `${dropped} R-peak(s) outside the segment's samples could not be cut`,
      });
    }
  };

  return perSourceBlocks<State, SegmentedBeat>({
    create: (block) => ({
      segmenter: new BeatWindowSegmenter<StreamMark>(
        block.sampleRateHz,
        block.firstSampleIndex,
        windowConfig,
      ),
      rr: new RrTracker(block.sampleRateHz),
      template: new BeatTemplate(block.sampleRateHz),
      block,
    }),
    next: (state, block, push) => {
      state.block = block;
      for (const m of block.marks) if (isPeak(m)) state.segmenter.addPeak(m.sampleIndex, m);
      toBeats(state, state.segmenter.pushSamples(block.samples), push);
      if (block.segmentEnd || block.endOfStream) close(state, push);
    },
    flush: (state, push) => close(state, push),
  });
}
