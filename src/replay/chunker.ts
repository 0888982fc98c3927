/**
 * Cut one recorded lead into sample chunks (pure; no I/O, no clock). Reference annotations are attached
 * to the chunk whose sample span contains them, so annotation-driven segmentation downstream sees each
 * annotation exactly once and in order with the signal.
 */
import type { ReferenceAnnotation, SampleChunkV1 } from '../schemas/types';

export interface RecordedLead {
  sourceId: string;
  lead: string;
  sampleRateHz: number;
  gainAduPerMv: number;
  baselineAdu: number;
  /** Digital samples of the lead. */
  samples: Int16Array;
  /** Reference annotations sorted by sample index (empty for unannotated sources). */
  annotations: readonly ReferenceAnnotation[];
}

export type UntimedChunk = Omit<SampleChunkV1, 'acquisitionTimeMs'>;

/** Chunk size in samples for a wanted duration: at least one sample, rounded to the nearest sample. */
export function chunkSamplesFor(sampleRateHz: number, chunkSeconds: number): number {
  return Math.max(1, Math.round(sampleRateHz * chunkSeconds));
}

export function* chunkRecording(recording: RecordedLead, chunkSamples: number): Generator<UntimedChunk> {
  const { samples, annotations } = recording;
  let a = 0;
  let sequenceNumber = 0;
  for (let first = 0; first < samples.length; first += chunkSamples) {
    const end = Math.min(first + chunkSamples, samples.length);
    // Annotations before the first sample (none in valid files) still travel, with the first chunk.
    const chunkAnnotations: ReferenceAnnotation[] = [];
    while (a < annotations.length && annotations[a].sampleIndex < end)
      chunkAnnotations.push(annotations[a++]);
    // Annotations past the last sample ride on the last chunk rather than vanish.
    if (end === samples.length) while (a < annotations.length) chunkAnnotations.push(annotations[a++]);
    yield {
      sourceId: recording.sourceId,
      lead: recording.lead,
      sampleRateHz: recording.sampleRateHz,
      firstSampleIndex: first,
      sequenceNumber: sequenceNumber++,
      gainAduPerMv: recording.gainAduPerMv,
      baselineAdu: recording.baselineAdu,
      samples: Array.from(samples.subarray(first, end)),
      annotations: chunkAnnotations,
      endOfStream: end === samples.length,
    };
  }
}
