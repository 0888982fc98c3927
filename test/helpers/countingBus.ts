/**
 * A bus whose sources count what they hand over per partition and the pauses asked of them: how tests see
 * whether a reader holds partitions back at the bus or buffers them.
 */
import { tap } from 'rxjs';
import type { Bus, BusSource, ConsumerOptions } from '../../src/bus/types';

export interface CountingBus {
  bus: Bus;
  /** Messages handed over, per partition. */
  delivered: number[];
  /** "pause P" and "resume P", in order. */
  calls: string[];
}

export function countingBus(inner: Bus, partitions: number): CountingBus {
  const delivered = new Array<number>(partitions).fill(0);
  const calls: string[] = [];
  const bus = Object.create(inner) as Bus;
  bus.source = (options: ConsumerOptions): BusSource => {
    const source = inner.source(options);
    return {
      batches$: source.batches$.pipe(
        tap((b) => {
          delivered[b.partition] += b.messages.length;
        }),
      ),
      stopped: () => source.stopped(),
      pause: (topic, p) => {
        calls.push(`pause ${p}`);
        source.pause(topic, p);
      },
      resume: (topic, p) => {
        calls.push(`resume ${p}`);
        source.resume(topic, p);
      },
    };
  };
  return { bus, delivered, calls };
}
