import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passOverBeatLog, type BeatLog } from '../../../pipelines/beatExamples';
import { DeadLetterWriter } from '../../../src/bus/deadLetter';
import { MemoryBus } from '../../../src/bus/memoryBus';
import { BatchingSink } from '../../../src/bus/sink';
import { BeatLogChangedError } from '../../../src/errors';
import { getCodecs } from '../../../src/schemas/codec';
import type { BeatV1 } from '../../../src/schemas/types';
import { syntheticBeat } from '../../helpers/syntheticBeat';

const beat = (sourceId: string, rPeakSampleIndex: number, samples = 187): BeatV1 =>
  syntheticBeat(sourceId, rPeakSampleIndex, new Array<number>(samples).fill(0.5));

async function logOf(beats: BeatV1[], endOffsets?: number[]): Promise<BeatLog> {
  const bus = new MemoryBus();
  await bus.ensureTopics([
    { topic: 'beats', partitions: 2 },
    { topic: 'dlq', partitions: 1 },
  ]);
  const producer = await bus.producer();
  for (const b of beats)
    await producer.send('beats', [{ key: b.sourceId, value: getCodecs().Beat.encode(b) }]);
  const deadLetterSink = new BatchingSink(await bus.producer());
  return {
    bus,
    topic: 'beats',
    endOffsets: endOffsets ?? (await bus.endOffsets('beats')),
    fraction: 1,
    seed: 1,
    deadLetters: new DeadLetterWriter(deadLetterSink, 'dlq', 'test', undefined, { oncePerMessage: true }),
    deadLetterSink,
    heldOut: new Set(),
    validate: (b) => (b.samples.length === 187 ? undefined : `beat has ${b.samples.length} samples`),
  };
}

describe('bounded passes over the beat log', () => {
  it('reads every beat once per pass, leaving out and dead-lettering (once) those that fail validation', async () => {
    const log = await logOf([
      beat('100', 1),
      beat('101', 2),
      beat('100', 3, 90),
      beat('100', 1),
      beat('102', 4),
    ]);
    for (let pass = 0; pass < 3; pass++) {
      const read: string[] = [];
      await passOverBeatLog(log, `g${pass}`, (beats) => {
        for (const b of beats) read.push(`${b.sourceId}:${b.rPeakSampleIndex}`);
      });
      assert.deepEqual(read.sort(), ['100:1', '101:2', '102:4'], 'the duplicate and the bad beat left out');
    }
    await log.deadLetterSink.flush();
    assert.deepEqual(
      await log.bus.endOffsets('dlq'),
      [1],
      'the bad beat dead-lettered once over three passes',
    );
  });

  it('refuses a log that now ends before the offsets it was fixed to, instead of waiting forever', async () => {
    const log = await logOf([beat('100', 1), beat('101', 2)]);
    const recorded = (await log.bus.endOffsets('beats')).map((n) => n + 5);
    await assert.rejects(
      passOverBeatLog({ ...log, endOffsets: recorded }, 'g', () => undefined),
      (e: unknown) =>
        e instanceof BeatLogChangedError && /ends before the offsets this read was fixed to/.test(e.message),
    );
  });

  it('refuses a log whose start retention has deleted, instead of reading what is left', async () => {
    const log = await logOf([beat('100', 1), beat('101', 2), beat('102', 3)]);
    const recorded = await log.bus.endOffsets('beats');
    // What the broker reports once retention has deleted a partition's first segments.
    const trimmed = Object.create(log.bus) as typeof log.bus;
    trimmed.startOffsets = async () => recorded.map((end) => Math.min(end, 1));
    await assert.rejects(
      passOverBeatLog({ ...log, bus: trimmed, endOffsets: recorded }, 'g', () => undefined),
      (e: unknown) =>
        e instanceof BeatLogChangedError && /retention has deleted the start of the beat log/.test(e.message),
    );
    // The log as written reads.
    await passOverBeatLog({ ...log, endOffsets: recorded }, 'g2', () => undefined);
  });
});
