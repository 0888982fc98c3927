import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { copyInCanonicalOrder } from '../../../src/beats/canonicalOrder';
import { SEED_PAPER_PREPARATION } from '../../../src/beats/preparation';
import { MemoryBus } from '../../../src/bus/memoryBus';
import type { Bus } from '../../../src/bus/types';
import { ensureBeatLog } from '../../../src/cli/training';
import { getCodecs } from '../../../src/schemas/codec';
import type { BeatV1 } from '../../../src/schemas/types';
import { requireDataDir } from '../../helpers/env';
import { syntheticBeat } from '../../helpers/syntheticBeat';

const beat = (sourceId: string, rPeakSampleIndex: number): BeatV1 =>
  syntheticBeat(sourceId, rPeakSampleIndex, new Array<number>(187).fill(rPeakSampleIndex % 7));

/** Every partition's messages, in offset order, as "key value-bytes". */
async function contents(bus: Bus, topic: string): Promise<string[][]> {
  const ends = await bus.endOffsets(topic);
  const out: string[][] = ends.map(() => []);
  const source = bus.source({
    groupId: `${topic}-check`,
    topics: [topic],
    fromBeginning: true,
    maxBatchMessages: 1e6,
  });
  await new Promise<void>((resolve) => {
    let seen = 0;
    const total = ends.reduce((a, b) => a + b, 0);
    const sub = source.batches$.subscribe((b) => {
      for (const m of b.messages) out[b.partition].push(`${m.key} ${m.value.toString('base64')}`);
      seen += b.messages.length;
      b.ack();
      if (seen === total) {
        sub.unsubscribe();
        resolve();
      }
    });
  });
  return out;
}

describe('the beat log in canonical order', () => {
  it('is the same sequence whatever order the beats were written in', async () => {
    const sources = ['100', '101', '106', '119', '208'];
    const beats = sources.flatMap((s, k) =>
      Array.from({ length: 30 }, (_, i) => beat(s, 100 + i * 250 + k * 37)),
    );
    const garbage = { key: '101', value: Buffer.from('not a beat') };
    const write = async (ordered: BeatV1[]) => {
      const bus = new MemoryBus({ maxBatchMessages: 7 });
      await bus.ensureTopics([{ topic: 'built', partitions: 3 }]);
      const producer = await bus.producer();
      await producer.send('built', [garbage]);
      // Per-source order is kept (the preprocess writes a record's beats in order); sources interleave.
      for (const b of ordered)
        await producer.send('built', [{ key: b.sourceId, value: getCodecs().Beat.encode(b) }]);
      assert.equal(await copyInCanonicalOrder(bus, 'built', 'log'), beats.length + 1);
      return contents(bus, 'log');
    };
    const oneSourceAfterAnother = await write(beats);
    const roundRobin = await write(
      Array.from({ length: 30 }, (_, i) => sources.map((_, k) => beats[k * 30 + i])).flat(),
    );
    assert.deepEqual(roundRobin, oneSourceAfterAnother);
    const decoded = oneSourceAfterAnother.map((partition) =>
      partition.flatMap((line) => {
        const [key, value] = line.split(' ');
        try {
          const b = getCodecs().Beat.decode(Buffer.from(value, 'base64'));
          assert.equal(b.sourceId, key);
          return [[b.rPeakSampleIndex, b.sourceId] as const];
        } catch {
          return [[Number.POSITIVE_INFINITY, key] as const];
        }
      }),
    );
    for (const partition of decoded) {
      const sorted = [...partition].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
      assert.deepEqual(partition, sorted, 'by R-peak, then source');
    }
    assert.equal(decoded.flat().length, beats.length + 1, 'nothing lost, the garbage kept (at its end)');
    assert.ok(decoded.some((p) => p.length > 0 && p[p.length - 1][0] === Number.POSITIVE_INFINITY));
  });

  it('refuses a bus whose log it would have to hold in memory, and a target that is not empty', async () => {
    const kafkaLike = { kind: 'kafka' } as Bus;
    await assert.rejects(copyInCanonicalOrder(kafkaLike, 'a', 'b'), /in-process bus only/);
    const bus = new MemoryBus();
    await bus.ensureTopics([
      { topic: 'a', partitions: 1 },
      { topic: 'b', partitions: 1 },
    ]);
    await (await bus.producer()).send('b', [{ key: 'k', value: Buffer.from('x') }]);
    await assert.rejects(copyInCanonicalOrder(bus, 'a', 'b'), /topic b is not empty/);
  });

  it('makes two in-process builds of MIT-BIH records the same log', async () => {
    const dataDir = requireDataDir();
    const build = async () => {
      const bus = new MemoryBus();
      const beats = await ensureBeatLog(bus, {
        topic: 'ecg.beats.intra',
        beats: SEED_PAPER_PREPARATION,
        protocol: 'intra',
        dataDir,
        records: ['100', '101', '106', '119'],
        brokers: undefined,
        topicPrefix: '',
      });
      assert.ok(beats > 7000, `${beats} beats`);
      // Everything a model sees; rPeakTimeMs is wall-clock time (the replay's start), another in every build.
      return (await contents(bus, 'ecg.beats.intra')).map((partition) =>
        partition.map((line) => {
          const { rPeakTimeMs: _wallClock, ...beat } = getCodecs().Beat.decode(
            Buffer.from(line.split(' ')[1], 'base64'),
          );
          return JSON.stringify(beat);
        }),
      );
    };
    const first = await build();
    assert.deepEqual(await build(), first);
  });
});
