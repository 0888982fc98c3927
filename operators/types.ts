/**
 * The values that flow between the signal operators. They are plain data (no classes), independent of
 * Kafka and Avro: `SampleChunkLike` is structurally what the samples topic carries (SampleChunkV1), and
 * everything downstream of `sanitizeSamples` is a `SignalBlock`.
 *
 * Invariants every operator keeps (and may rely on):
 * - blocks of one source arrive in order and are contiguous within a segment: block.firstSampleIndex is
 *   the previous block's firstSampleIndex + samples.length, until a block with `segmentEnd`;
 * - sample numbering is time-aligned: index n is the signal at n / sampleRateHz seconds from the
 *   source's sample 0, whatever filters and resamplers ran before (their delays show as latency only);
 * - marks (reference annotations, detected R-peaks) ride on the block whose samples they point at, so
 *   an operator sees a mark together with its samples (marks past the end of a segment ride on its last
 *   block);
 * - a `segmentEnd` block (possibly empty) closes a contiguous segment: stateful operators flush what they
 *   hold for the source and forget it; the next block of the source has `segmentStart`. Nothing is ever
 *   carried across a segment boundary (a gap, a skipped span, a sampling-rate change).
 */
import type { BeatMorphology } from '../src/dsp/beatTemplate';
import type { RrIntervals } from '../src/dsp/rrIntervals';
import type { Observer } from 'rxjs';

/** A reference annotation as sent with samples (WFDB mnemonic, optional aux text). */
export interface ChunkAnnotation {
  sampleIndex: number;
  symbol: string;
  aux: string | null;
}

/** A chunk of raw (digital) samples of one lead of one source: the shape of SampleChunkV1. */
export interface SampleChunkLike {
  sourceId: string;
  sampleRateHz: number;
  firstSampleIndex: number;
  sequenceNumber: number;
  acquisitionTimeMs: number;
  gainAduPerMv: number;
  baselineAdu: number;
  samples: ArrayLike<number>;
  annotations: readonly ChunkAnnotation[];
  endOfStream: boolean;
}

/** Where a mark came from. */
export type MarkOrigin = 'reference' | 'detector';

/** An annotation or detection riding on a block. */
export interface StreamMark {
  /** Position in the block's numbering (fractional after resampling). */
  sampleIndex: number;
  /** Position in the source's own numbering at its own rate (as the source sent it). */
  sourceSampleIndex: number;
  symbol: string;
  aux: string | null;
  origin: MarkOrigin;
}

/** A contiguous piece of one source's signal, in physical units (mV). */
export interface SignalBlock {
  sourceId: string;
  sampleRateHz: number;
  /** The rate of the source's own numbering (before any resampling). */
  sourceSampleRateHz: number;
  /** Index of samples[0] in this block's (time-aligned) numbering. */
  firstSampleIndex: number;
  samples: Float64Array;
  marks: readonly StreamMark[];
  /** Acquisition time (epoch ms) of source sample 0 of the segment, so sample n is at
   * originTimeMs + 1000 * n / sampleRateHz. */
  originTimeMs: number;
  /** First block of a contiguous segment. */
  segmentStart: boolean;
  /** Last block of a contiguous segment (flush and forget per-source state after it). */
  segmentEnd: boolean;
  /** Last block of the source's stream (implies segmentEnd). */
  endOfStream: boolean;
}

/** Kinds of bad input, reported as events and skipped. */
export type SignalEventKind =
  | 'non-finite'
  | 'flat-line'
  | 'saturation'
  | 'invalid-chunk'
  | 'duplicate-chunk'
  | 'sequence-gap'
  | 'sample-gap'
  | 'sample-overlap'
  | 'sample-rate-change'
  | 'late-join'
  | 'marks-dropped';

/** A problem an operator found in its input; the affected span was skipped (or, for late-join, noted). */
export interface SignalEvent {
  sourceId: string;
  kind: SignalEventKind;
  /** Which operator reported it. */
  operator: string;
  /** First affected sample, in the source's own numbering (chunk-level events: the chunk's first sample). */
  firstSampleIndex: number;
  /** Number of samples skipped (0 when nothing was skipped, e.g. a gap, which has nothing to skip). */
  sampleCount: number;
  /** Sequence number of the chunk that revealed the problem, when known. */
  sequenceNumber?: number;
  detail: string;
}

/** Side output for events: a Subject, or anything with `next`. */
export type SignalEventSink = Pick<Observer<SignalEvent>, 'next'>;

/** A beat cut from a source's signal. */
export interface SegmentedBeat {
  sourceId: string;
  /** R-peak in the beat stream's numbering (at beatSampleRateHz). */
  rPeakIndex: number;
  /** R-peak in the source's own numbering (at sourceSampleRateHz). */
  rPeakSourceIndex: number;
  rPeakTimeMs: number;
  sourceSampleRateHz: number;
  beatSampleRateHz: number;
  /** The beat waveform (default: Kachuee form, 187 samples in [0, 1]). */
  samples: Float32Array;
  /** Pre-RR, post-RR and their averages around this beat (src/dsp/rrIntervals.ts). */
  rr: RrIntervals;
  /** Shape compared with the source's running dominant-beat template (src/dsp/beatTemplate.ts). */
  morphology: BeatMorphology;
  /** Median RR of the beat's window, in beat samples (Kachuee's T). */
  rrSamples: number;
  /** Where the R-peak came from: reference annotation or detector. */
  origin: MarkOrigin;
  /** Reference symbol (annotation-driven beats), null for detected beats. */
  symbol: string | null;
  /** Class of the reference symbol (e.g. AAMI N/S/V/F/Q) when `segmentBeats` was given `classOf`. */
  beatClass: string | null;
}

/** A beat with its spectrogram. */
export interface BeatSpectrogram extends SegmentedBeat {
  /** bins x frames values, row-major by frequency (see docs/operators.md). */
  spectrogram: Float32Array;
  bins: number;
  frames: number;
}
