/**
 * Key -> partition mapping identical to Kafka's default partitioner (murmur2 of the key bytes), so the
 * embedded bus and a real broker place a given patient on the same partition.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';

const defaultPartitioner = Partitioners.DefaultPartitioner();
const metadataCache = new Map<number, PartitionMetadata[]>();

export function partitionForKey(topic: string, key: string, partitions: number): number {
  let metadata = metadataCache.get(partitions);
  if (metadata === undefined) {
    metadata = Array.from({ length: partitions }, (_, i) => ({
      partitionErrorCode: 0,
      partitionId: i,
      leader: 0,
      replicas: [0],
      isr: [0],
    }));
    metadataCache.set(partitions, metadata);
  }
  return defaultPartitioner({ topic, partitionMetadata: metadata, message: { key, value: null } });
}
