/**
 * Metrics around a bus source, without touching the pipeline's logic: the size of every consumed batch
 * and the time from its arrival at the stage to its ack (decode, process, outputs flushed), per stage.
 * With metrics disabled the source is returned as is, so "off" costs nothing.
 */
import { map } from 'rxjs';
import type { ConsumedBatch, Source } from '../bus/types';
import type { Metrics } from './registry';

export function instrumentSource(source: Source, metrics: Metrics, stage: string): Source {
  if (!metrics.enabled) return source;
  const size = metrics.consumedBatchSize.labels(stage);
  const duration = metrics.batchDuration.labels(stage);
  return {
    batches$: source.batches$.pipe(
      map((batch): ConsumedBatch => {
        size.observe(batch.messages.length);
        const arrived = performance.now();
        let acked = false;
        return {
          topic: batch.topic,
          partition: batch.partition,
          messages: batch.messages,
          ack: () => {
            if (!acked) duration.observe((performance.now() - arrived) / 1000);
            acked = true;
            batch.ack();
          },
        };
      }),
    ),
    stopped: () => source.stopped(),
  };
}
