/**
 * From a segmented beat to the `Beat` message of the beats topic (schemas/beat.avsc), with its reference
 * label mapped to its AAMI class and the protocol's split. The message key is the source id (per-source
 * order); (sourceId, rPeakSampleIndex) identifies a beat, which is what consumers dedupe on after an
 * at-least-once redelivery.
 */
import type { SegmentedBeat } from '../../operators/types';
import type { BeatV1 } from '../schemas/types';
import { aamiClass } from '../wfdb/labels';

export function toBeatMessage(beat: SegmentedBeat, split: string | null, sequenceNumber: number): BeatV1 {
  return {
    sourceId: beat.sourceId,
    rPeakSampleIndex: beat.rPeakSourceIndex,
    rPeakTimeMs: beat.rPeakTimeMs,
    sourceSampleRateHz: beat.sourceSampleRateHz,
    beatSampleRateHz: beat.beatSampleRateHz,
    samples: Array.from(beat.samples),
    segmentation: beat.origin === 'reference' ? 'ANNOTATION' : 'DETECTOR',
    symbol: beat.symbol,
    aamiClass: beat.beatClass ?? (beat.symbol === null ? null : (aamiClass(beat.symbol) ?? null)),
    split,
    sequenceNumber,
    rr: { ...beat.rr },
    morphology: { ...beat.morphology },
  };
}

/** The dedup key of a beat. */
export function beatKey(beat: Pick<BeatV1, 'sourceId' | 'rPeakSampleIndex'>): string {
  return `${beat.sourceId}:${beat.rPeakSampleIndex}`;
}
