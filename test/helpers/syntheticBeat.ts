/** A labelled training beat for tests that need beats on a topic but not real signal. */
import type { BeatV1 } from '../../src/schemas/types';

export function syntheticBeat(
  sourceId: string,
  rPeakSampleIndex: number,
  samples: number[] = new Array<number>(187).fill(0.5),
): BeatV1 {
  return {
    sourceId,
    rPeakSampleIndex,
    rPeakTimeMs: rPeakSampleIndex,
    sourceSampleRateHz: 360,
    beatSampleRateHz: 125,
    samples,
    segmentation: 'ANNOTATION',
    symbol: 'N',
    aamiClass: 'N',
    split: 'train',
    sequenceNumber: 0,
    rr: null,
    morphology: null,
  };
}
