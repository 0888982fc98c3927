/**
 * Per-source accounting of a consumed sample stream: every chunk's sequence number is checked against
 * the next expected one, so lost chunks (gaps), repeats (duplicates, e.g. after an at-least-once
 * redelivery) and reordering are counted rather than silently absorbed.
 */
import type { SampleChunkV1 } from '../schemas/types';

export interface SourceTally {
  nextSequence: number;
  chunks: number;
  samples: number;
  duplicates: number;
  gaps: number;
  missingChunks: number;
  ended: boolean;
}

export interface StreamCheckSummary {
  sources: number;
  chunks: number;
  samples: number;
  duplicates: number;
  gaps: number;
  missingChunks: number;
  ended: number;
}

export class StreamCheck {
  readonly bySource = new Map<string, SourceTally>();

  /** Account one chunk; returns 'new', 'duplicate' or 'gap' (a gap chunk is still counted as new data). */
  add(
    chunk: Pick<SampleChunkV1, 'sourceId' | 'sequenceNumber' | 'samples' | 'endOfStream'>,
  ): 'new' | 'duplicate' | 'gap' {
    let tally = this.bySource.get(chunk.sourceId);
    if (tally === undefined) {
      tally = {
        nextSequence: 0,
        chunks: 0,
        samples: 0,
        duplicates: 0,
        gaps: 0,
        missingChunks: 0,
        ended: false,
      };
      this.bySource.set(chunk.sourceId, tally);
    }
    if (chunk.sequenceNumber < tally.nextSequence) {
      tally.duplicates++;
      return 'duplicate';
    }
    let result: 'new' | 'gap' = 'new';
    if (chunk.sequenceNumber > tally.nextSequence) {
      tally.gaps++;
      tally.missingChunks += chunk.sequenceNumber - tally.nextSequence;
      result = 'gap';
    }
    tally.nextSequence = chunk.sequenceNumber + 1;
    tally.chunks++;
    tally.samples += chunk.samples.length;
    if (chunk.endOfStream) tally.ended = true;
    return result;
  }

  summary(): StreamCheckSummary {
    const s: StreamCheckSummary = {
      sources: 0,
      chunks: 0,
      samples: 0,
      duplicates: 0,
      gaps: 0,
      missingChunks: 0,
      ended: 0,
    };
    for (const t of this.bySource.values()) {
      s.sources++;
      s.chunks += t.chunks;
      s.samples += t.samples;
      s.duplicates += t.duplicates;
      s.gaps += t.gaps;
      s.missingChunks += t.missingChunks;
      if (t.ended) s.ended++;
    }
    return s;
  }
}
