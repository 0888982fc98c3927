/**
 * Following the trainer: serve reads `ecg.training.events` and hands every new checkpoint to its
 * ModelManager. Each serve instance needs every event, so each reads with a group of its own. It reads
 * from the beginning and skips events older than its start (`sinceMs`), rather than starting at the end
 * of the topic: a group that starts "at the end" only knows where the end is once it has joined, and an
 * event published while it joins would be missed.
 *
 * Growth events announce a deeper network; the checkpoint written right after the growth carries it, so
 * with `swapOn: 'growth'` serve swaps only at the checkpoints that follow a growth (a new depth), and with
 * `'checkpoint'` at every checkpoint.
 */
import type { Subscription } from 'rxjs';
import { consumeDecoded } from '../bus/consume';
import type { DeadLetterWriter } from '../bus/deadLetter';
import type { BatchingSink } from '../bus/sink';
import type { Source } from '../bus/types';
import { getCodecs } from '../schemas/codec';
import type { Checkpoint, Growth, TrainingEventV1 } from '../schemas/types';

export type SwapPolicy = 'checkpoint' | 'growth' | 'none';

export interface TrainingEventHandlers {
  onCheckpoint(checkpoint: Checkpoint, runId: string): void;
  onGrowth?(growth: Growth, runId: string): void;
}

export interface FollowOptions {
  source: Source;
  deadLetters: DeadLetterWriter;
  deadLetterSink: BatchingSink;
  /** Events with an earlier timeMs are history: skipped. */
  sinceMs: number;
  swapOn: SwapPolicy;
  /** Follow only this training run (undefined: any). */
  runId?: string;
}

/** Subscribe to the training events; unsubscribe to stop. Errors (e.g. the bus failing) go to `onError`. */
export function followTrainingEvents(
  options: FollowOptions,
  handlers: TrainingEventHandlers,
  onError: (err: unknown) => void,
): Subscription {
  const grownDepths = new Map<string, number>();
  const handle = (event: TrainingEventV1) => {
    if (event.timeMs < options.sinceMs) return;
    if (options.runId !== undefined && event.runId !== options.runId) return;
    const body = event.event;
    if ('ecgflow.Growth' in body) {
      const growth = body['ecgflow.Growth'];
      grownDepths.set(event.runId, growth.depthAfter);
      handlers.onGrowth?.(growth, event.runId);
    } else if ('ecgflow.Checkpoint' in body) {
      const checkpoint = body['ecgflow.Checkpoint'];
      if (options.swapOn === 'none') return;
      if (options.swapOn === 'growth') {
        if (grownDepths.get(event.runId) !== checkpoint.depth) return;
        grownDepths.delete(event.runId);
      }
      handlers.onCheckpoint(checkpoint, event.runId);
    }
  };
  return consumeDecoded<TrainingEventV1>({
    source: options.source,
    codec: getCodecs().TrainingEvent,
    deadLetters: options.deadLetters,
    sinks: [options.deadLetterSink],
    handler: (items) => {
      for (const item of items) handle(item.value);
    },
  }).subscribe({ error: onError });
}
