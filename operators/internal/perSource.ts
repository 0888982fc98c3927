/**
 * The skeleton shared by the stateful signal operators: one state object per source (keyed by
 * sourceId), created on a source's first block and after every segment boundary, dropped at the end of
 * a segment, so one operator instance serves any number of interleaved sources with memory bounded by
 * the number of sources that are mid-segment. Completion of the input flushes every source, as if each
 * had reached the end of its segment.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { SignalBlock } from '../types';

export interface BlockProcessor<State, Out> {
  /** State for a new segment starting with `block`. */
  create(block: SignalBlock): State;
  /** Handle a block of the segment (the first one included); push outputs to `emit`. */
  next(state: State, block: SignalBlock, emit: (out: Out) => void): void;
  /** The input completed while the segment was open: flush what `state` holds. */
  flush(state: State, emit: (out: Out) => void): void;
}

/**
 * Lift a per-segment processor into an operator. A block that is not contiguous with the previous one
 * of its source (its first index differs from the expected one, or its rate differs) is treated as the
 * start of a new segment after flushing the old one, so operators stay safe even behind sources that do
 * not mark their boundaries.
 */
export function perSourceBlocks<State, Out>(
  processor: BlockProcessor<State, Out>,
): OperatorFunction<SignalBlock, Out> {
  return (source) =>
    new Observable<Out>((subscriber) => {
      const states = new Map<string, { state: State; nextIndex: number; rate: number }>();
      const emit = (out: Out) => subscriber.next(out);
      const subscription = source.subscribe({
        next: (block) => {
          try {
            let entry = states.get(block.sourceId);
            if (
              entry !== undefined &&
              (block.segmentStart ||
                block.sampleRateHz !== entry.rate ||
                block.firstSampleIndex !== entry.nextIndex)
            ) {
              // A boundary the upstream did not mark (or a new segment): close the old segment first.
              processor.flush(entry.state, emit);
              states.delete(block.sourceId);
              entry = undefined;
            }
            if (entry === undefined) {
              entry = {
                state: processor.create(block),
                nextIndex: block.firstSampleIndex,
                rate: block.sampleRateHz,
              };
              states.set(block.sourceId, entry);
            }
            entry.nextIndex = block.firstSampleIndex + block.samples.length;
            processor.next(entry.state, block, emit);
            if (block.segmentEnd || block.endOfStream) states.delete(block.sourceId);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          try {
            for (const { state } of states.values()) processor.flush(state, emit);
            states.clear();
            subscriber.complete();
          } catch (err) {
            subscriber.error(err);
          }
        },
      });
      return () => subscription.unsubscribe();
    });
}
