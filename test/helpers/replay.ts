/**
 * Replay MIT-BIH records onto a samples topic as fast as possible, as the integration tests need it.
 */
import { runReplay } from '../../pipelines/replay';
import { BatchingSink } from '../../src/bus/sink';
import type { Bus } from '../../src/bus/types';
import { Metrics } from '../../src/metrics/registry';

export async function replayRecords(
  bus: Bus,
  dataDir: string,
  records: string[],
  samplesTopic: string,
  maxBatchMessages?: number,
): Promise<void> {
  const sink = new BatchingSink(
    await bus.producer(),
    maxBatchMessages === undefined ? {} : { maxBatchMessages },
  );
  try {
    await runReplay(
      { dataDir, records, speed: 'max', lead: 'MLII', chunkSeconds: 1, annotator: 'atr', samplesTopic },
      sink,
      new Metrics({ defaultMetrics: false }),
    );
  } finally {
    await sink.close();
  }
}
