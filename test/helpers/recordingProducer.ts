/** A bus producer for unit tests: records what it is sent; `hold()` makes sends wait until `release()`. */
import type { OutgoingMessage, Producer } from '../../src/bus/types';

export class RecordingProducer implements Producer {
  readonly sent: { topic: string; message: OutgoingMessage }[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.gate !== undefined) await this.gate;
    for (const message of messages) this.sent.push({ topic, message });
  }

  async close(): Promise<void> {}
}
