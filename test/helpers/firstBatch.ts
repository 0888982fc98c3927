/**
 * The first batch a fresh consumer group reads from the beginning of a topic, acked, with the consumer
 * stopped: how tests look at what a pipeline wrote (events, dead letters, beats).
 */
import { firstValueFrom } from 'rxjs';
import type { Bus, ConsumedBatch } from '../../src/bus/types';

export async function firstBatch(bus: Bus, topic: string, groupId = `${topic}-g`): Promise<ConsumedBatch> {
  const source = bus.source({ groupId, topics: [topic], fromBeginning: true });
  const batch = await firstValueFrom(source.batches$);
  batch.ack();
  await source.stopped();
  return batch;
}
