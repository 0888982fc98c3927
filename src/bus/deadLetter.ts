/**
 * Decoding at the edge of a pipeline, with dead-lettering: a message that fails Avro decoding (or a later
 * validation) is written to the dead-letter topic with the reason, the stage and its source coordinates,
 * and the stream carries on. Nothing is dropped silently: every rejected message is either on the
 * dead-letter topic or the pipeline fails (and its batch is not acked, so it is redelivered).
 */
import { EcgflowError, MessageValidationError, describeError } from '../errors';
import type { Codec } from '../schemas/codec';
import { getCodecs } from '../schemas/codec';
import type { BatchingSink } from './sink';
import type { ConsumedMessage } from './types';

export interface DeadLetterCounter {
  inc(labels: { stage: string; reason: string }): void;
}

export class DeadLetterWriter {
  /** Messages already dead-lettered, when each is to be written once (bounded by the bad messages). */
  private readonly written: Set<string> | undefined;

  constructor(
    private readonly sink: BatchingSink,
    private readonly topic: string,
    private readonly stage: string,
    private readonly counter?: DeadLetterCounter,
    /**
     * For readers that pass over the same log many times (the trainer's epochs): a bad message is written
     * and counted the first time only, not once per pass.
     */
    options: { oncePerMessage?: boolean } = {},
  ) {
    this.written = options.oncePerMessage === true ? new Set() : undefined;
  }

  async write(message: ConsumedMessage, err: unknown): Promise<void> {
    if (this.written !== undefined) {
      const key = `${message.topic}:${message.partition}:${message.offset}`;
      if (this.written.has(key)) return;
      this.written.add(key);
    }
    const errorCode = err instanceof EcgflowError ? err.code : 'UNEXPECTED';
    const value = getCodecs().DeadLetter.encode({
      sourceTopic: message.topic,
      sourcePartition: message.partition,
      sourceOffset: message.offset,
      stage: this.stage,
      errorCode,
      reason: describeError(err),
      key: message.key === null ? null : Buffer.from(message.key),
      value: message.value,
      timeMs: Date.now(),
    });
    await this.sink.write(this.topic, { key: message.key ?? '', value });
    this.counter?.inc({ stage: this.stage, reason: errorCode });
  }
}

export interface DecodedMessage<T> {
  value: T;
  message: ConsumedMessage;
}

/**
 * Decode a batch; messages that fail go to the dead-letter writer and are left out of the result. With
 * `validate`, a message that decodes but whose content the stage cannot use (validate returns why) is
 * dead-lettered too, as a MessageValidationError naming the topic, partition and offset.
 */
export async function decodeBatch<T>(
  messages: readonly ConsumedMessage[],
  codec: Codec<T>,
  deadLetters: DeadLetterWriter,
  validate?: (value: T) => string | undefined,
): Promise<DecodedMessage<T>[]> {
  const out: DecodedMessage<T>[] = [];
  for (const message of messages) {
    const location = { source: message.topic, partition: message.partition, offset: message.offset };
    try {
      const value = codec.decode(message.value, location);
      const problem = validate?.(value);
      if (problem !== undefined) throw new MessageValidationError(problem, location);
      out.push({ value, message });
    } catch (err) {
      await deadLetters.write(message, err);
    }
  }
  return out;
}
