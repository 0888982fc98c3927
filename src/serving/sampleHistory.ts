/**
 * Where serve gets back the signal a previous owner of a partition had consumed but not yet turned into
 * predictions. Serve's state per source (filters, the QRS detector, the 10 s normalisation window) spans
 * up to `lookBackSeconds` of signal behind the newest chunk, and that state lives only in memory: when a
 * serve instance dies or loses a partition in a rebalance, the instance that takes the partition over
 * starts at the committed offset, after chunks whose beats were never published. So when serve meets a
 * source it has not been following (its first chunk seen has sequenceNumber > 0, or chunks are missing
 * since the last one it saw), it reads that source's preceding chunks back from the samples topic and
 * feeds them first. Beats that the previous owner had already published come out again with the same
 * dedupKey (at least once); none are lost.
 */
import type { KafkaPartitionReader } from '../bus/partitionRange';
import type { Codec } from '../schemas/codec';
import type { SampleChunkV1 } from '../schemas/types';

export interface HistoryRequest {
  topic: string;
  partition: number;
  /** The first offset of the current batch: history ends before it. */
  beforeOffset: number;
  /** Kafka timestamp of the earliest late chunk in the batch. */
  timestampMs: number;
  /** Per late source: chunks wanted from this sample index, with a sequence number above this one. */
  sources: ReadonlyMap<string, { fromSampleIndex: number; afterSequence: number }>;
}

export interface HistoryResult {
  /** Chunks per source, in order. */
  chunks: Map<string, SampleChunkV1[]>;
  messagesRead: number;
  complete: boolean;
}

export interface SampleHistory {
  fetch(request: HistoryRequest): Promise<HistoryResult>;
}

export interface KafkaSampleHistoryOptions {
  /** How far back (wall clock on the message timestamps) to start reading. */
  lookBackMs: number;
  maxMessages: number;
  timeoutMs: number;
}

/** The samples topic on Kafka as history. */
export class KafkaSampleHistory implements SampleHistory {
  constructor(
    private readonly reader: KafkaPartitionReader,
    private readonly codec: Codec<SampleChunkV1>,
    private readonly options: KafkaSampleHistoryOptions,
  ) {}

  async fetch(request: HistoryRequest): Promise<HistoryResult> {
    const result = await this.reader.read({
      topic: request.topic,
      partition: request.partition,
      fromTimestampMs: request.timestampMs - this.options.lookBackMs,
      toOffset: request.beforeOffset,
      maxMessages: this.options.maxMessages,
      timeoutMs: this.options.timeoutMs,
    });
    const chunks = new Map<string, SampleChunkV1[]>();
    for (const m of result.messages) {
      if (m.key === null || !request.sources.has(m.key)) continue;
      let chunk: SampleChunkV1;
      try {
        chunk = this.codec.decode(m.value, { source: m.topic, partition: m.partition, offset: m.offset });
      } catch {
        continue; // it was dead-lettered when first consumed
      }
      const want = request.sources.get(chunk.sourceId);
      if (want === undefined || chunk.sequenceNumber <= want.afterSequence) continue;
      if (chunk.firstSampleIndex + chunk.samples.length <= want.fromSampleIndex) continue;
      let list = chunks.get(chunk.sourceId);
      if (list === undefined) {
        list = [];
        chunks.set(chunk.sourceId, list);
      }
      list.push(chunk);
    }
    for (const list of chunks.values()) list.sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    return { chunks, messagesRead: result.messages.length, complete: result.complete };
  }
}
