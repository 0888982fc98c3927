/**
 * Replay through the real broker: record 100 consumed back is sample-identical to the file and in order;
 * a consumer killed mid-stream resumes from its committed offsets without loss; a corrupt message goes to
 * the dead-letter topic with its reason and offset while the stream carries on.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runSampleCheck } from '../../pipelines/sampleCheck';
import { KafkaBus } from '../../src/bus/kafkaBus';
import { BatchingSink } from '../../src/bus/sink';
import { topicNames, type TopicNames } from '../../src/bus/topics';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';
import { Metrics } from '../../src/metrics/registry';
import { getCodecs } from '../../src/schemas/codec';
import type { SampleChunkV1 } from '../../src/schemas/types';
import { chooseLead, readAnnotations, readHeader, readSignals } from '../../src/wfdb/record';
import { requireDataDir, uniquePrefix } from '../helpers/env';
import { firstBatch } from '../helpers/firstBatch';
import { replayRecords } from '../helpers/replay';
import { scratchDir } from '../helpers/scratch';

const dataDir = requireDataDir();
let broker: LocalBroker;
let bus: KafkaBus;
const created: string[] = [];

async function freshTopics(name: string, samplesPartitions = 6): Promise<TopicNames> {
  const topics = topicNames(uniquePrefix(name));
  await bus.ensureTopics([
    { topic: topics.samples, partitions: samplesPartitions },
    { topic: topics.deadLetter, partitions: 1 },
  ]);
  created.push(topics.samples, topics.deadLetter);
  return topics;
}

before(async () => {
  broker = await ensureBroker();
  bus = new KafkaBus({ brokers: broker.brokers, clientId: 'it-replay' });
});

after(async () => {
  await bus?.deleteTopics(created).catch(() => undefined);
  await bus?.close();
  await broker?.stop();
});

describe('replay on Kafka', () => {
  it('record 100 comes back sample-identical, in order, with its annotations', async () => {
    const topics = await freshTopics('identical');
    await replayRecords(bus, dataDir, ['100'], topics.samples);
    const chunks: SampleChunkV1[] = [];
    const dlq = new BatchingSink(await bus.producer());
    const source = bus.source({
      groupId: `${topics.samples}-g`,
      topics: [topics.samples],
      fromBeginning: true,
    });
    const result = await runSampleCheck(
      { expected: new Map([['100', 650_000]]), deadLetterTopic: topics.deadLetter, timeoutMs: 60_000 },
      source,
      dlq,
      new Metrics({ defaultMetrics: false }),
      (c) => chunks.push(c),
    );
    await source.stopped();
    await dlq.close();
    assert.equal(result.complete, true);
    assert.deepEqual([result.duplicates, result.gaps, result.deadLetters], [0, 0, 0]);

    const header = await readHeader(dataDir, '100');
    const lead = chooseLead(header, 'MLII');
    const { signals } = await readSignals(dataDir, '100', { signals: [lead.index] });
    const file = signals[0];
    assert.deepEqual(
      chunks.map((c) => c.sequenceNumber),
      chunks.map((_, i) => i),
      'chunks arrive in order',
    );
    let index = 0;
    for (const c of chunks) {
      assert.equal(c.firstSampleIndex, index);
      assert.equal(c.sampleRateHz, 360);
      assert.equal(c.lead, 'MLII');
      for (let i = 0; i < c.samples.length; i++) {
        if (c.samples[i] !== file[index + i])
          assert.fail(`sample ${index + i}: got ${c.samples[i]}, file has ${file[index + i]}`);
      }
      index += c.samples.length;
    }
    assert.equal(index, file.length);
    assert.deepEqual([chunks[0].samples[0], chunks[0].gainAduPerMv, chunks[0].baselineAdu], [995, 200, 1024]);

    const annotations = await readAnnotations(dataDir, '100');
    const carried = chunks.flatMap((c) => c.annotations);
    assert.deepEqual(
      carried.map((a) => `${a.sampleIndex}${a.symbol}`),
      annotations.map((a) => `${a.sample}${a.symbol}`),
    );
    assert.ok(
      chunks.every((c) =>
        c.annotations.every(
          (a) => a.sampleIndex >= c.firstSampleIndex && a.sampleIndex < c.firstSampleIndex + c.samples.length,
        ),
      ),
    );
  });

  it('a consumer killed mid-stream resumes from its committed offsets with no loss', async () => {
    const topics = await freshTopics('restart', 3);
    // Small producer batches: a fetch returns whole record batches, so these bound the consumer's batches.
    await replayRecords(bus, dataDir, ['100', '101'], topics.samples, 20);
    const expected = 2 * Math.ceil(650_000 / 360);
    const outFile = path.join(scratchDir('ecgflow-it-'), 'seen.txt');
    const groupId = `${topics.samples}-g`;
    const fixture = path.join(__dirname, 'fixtures', 'consumeToFile.js');
    const startChild = (): ChildProcess =>
      spawn(
        process.execPath,
        [fixture, broker.brokers.join(','), topics.samples, topics.deadLetter, groupId, outFile, '40'],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
    const lines = () =>
      fs.existsSync(outFile)
        ? fs
            .readFileSync(outFile, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [];
    const waitFor = async (cond: () => boolean, what: string, timeoutMs = 90_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!cond()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const exited = (child: ChildProcess) => new Promise((r) => child.once('exit', r));

    const first = startChild();
    // Kill only after several commit intervals (1 s) so that some progress is committed.
    const firstStart = Date.now();
    await waitFor(
      () => lines().length >= expected * 0.3 && Date.now() - firstStart > 3000,
      'first consumer progress',
    );
    first.kill('SIGKILL');
    await exited(first);
    const beforeKill = lines().length;
    assert.ok(beforeKill < expected, 'the first consumer must be killed mid-stream');

    const second = startChild();
    const unique = () => new Set(lines().map((l) => l.split(' ').slice(0, 2).join(' '))).size;
    await waitFor(() => unique() >= expected, 'every chunk after the restart');
    second.kill('SIGTERM');
    await exited(second);

    const all = lines();
    const keys = new Set(all.map((l) => l.split(' ').slice(0, 2).join(' ')));
    assert.equal(keys.size, expected, 'no chunk lost');
    for (const record of ['100', '101']) {
      for (let seq = 0; seq < expected / 2; seq++)
        assert.ok(keys.has(`${record} ${seq}`), `${record} chunk ${seq} missing`);
    }
    const redelivered = all.length - keys.size;
    assert.ok(
      redelivered < beforeKill,
      `restart resumed from committed offsets (redelivered ${redelivered} of ${beforeKill})`,
    );
  });

  it('sends a corrupt message to the dead-letter topic with reason and offset, and keeps consuming', async () => {
    const topics = await freshTopics('deadletter', 1);
    const codec = getCodecs().SampleChunk;
    const chunk = (seq: number, end: boolean): SampleChunkV1 => ({
      sourceId: 'p1',
      lead: 'II',
      sampleRateHz: 250,
      firstSampleIndex: seq * 3,
      acquisitionTimeMs: Date.now(),
      sequenceNumber: seq,
      gainAduPerMv: 1000,
      baselineAdu: 0,
      samples: [1, 2, 3],
      annotations: [],
      endOfStream: end,
    });
    const producer = await bus.producer();
    const garbage = Buffer.from('{"not":"avro"}');
    await producer.send(topics.samples, [
      { key: 'p1', value: codec.encode(chunk(0, false)) },
      { key: 'p1', value: garbage },
      { key: 'p1', value: codec.encode(chunk(1, true)) },
    ]);
    await producer.close();

    const dlqSink = new BatchingSink(await bus.producer());
    const source = bus.source({
      groupId: `${topics.samples}-g`,
      topics: [topics.samples],
      fromBeginning: true,
    });
    const result = await runSampleCheck(
      { expected: new Map([['p1', 6]]), deadLetterTopic: topics.deadLetter, timeoutMs: 60_000 },
      source,
      dlqSink,
      new Metrics({ defaultMetrics: false }),
    );
    await source.stopped();
    await dlqSink.close();
    assert.equal(result.complete, true);
    assert.equal(result.samples, 6);
    assert.equal(result.deadLetters, 1);

    const batch = await firstBatch(bus, topics.deadLetter);
    const letter = getCodecs().DeadLetter.decode(batch.messages[0].value);
    assert.equal(letter.sourceTopic, topics.samples);
    assert.equal(letter.sourceOffset, '1');
    assert.equal(letter.errorCode, 'MESSAGE_DECODE');
    assert.match(letter.reason, /not an Avro single-object message/);
    assert.deepEqual(letter.value, garbage);
    assert.equal(letter.key?.toString(), 'p1');
  });
});
