/**
 * Chunks of several recordings interleaved one chunk per recording at a time, the order in which a bus
 * would deliver concurrently replayed records to a single consumer. For in-process runs of pipelines and
 * benchmarks (no clock: acquisitionTimeMs is 0).
 */
import type { SampleChunkV1 } from '../schemas/types';
import { chunkRecording, chunkSamplesFor, type RecordedLead } from './chunker';

export function* interleavedChunks(
  recordings: Iterable<RecordedLead>,
  chunkSeconds: number,
): Generator<SampleChunkV1> {
  let active = [...recordings].map((r) => chunkRecording(r, chunkSamplesFor(r.sampleRateHz, chunkSeconds)));
  while (active.length > 0) {
    const next: typeof active = [];
    for (const g of active) {
      const step = g.next();
      if (step.done) continue;
      yield { ...step.value, acquisitionTimeMs: 0 };
      next.push(g);
    }
    active = next;
  }
}
