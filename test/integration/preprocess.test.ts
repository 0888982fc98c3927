/**
 * Pipeline `preprocess` on the real broker: record 100 replayed to the samples topic, segmented by the
 * pipeline to the beats topic, consumed back: the same beats (keys, labels, splits, waveforms) as the
 * in-process run of the same operator chain. And `detect` through Kafka gives the in-process detections.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runBeatCount } from '../../pipelines/beatCount';
import { detectChunks, runDetect } from '../../pipelines/detect';
import { preprocessChain, runPreprocess } from '../../pipelines/preprocess';
import { toBeatMessage } from '../../src/beats/message';
import { BeatTally } from '../../src/beats/tally';
import { KafkaBus } from '../../src/bus/kafkaBus';
import { BatchingSink } from '../../src/bus/sink';
import { topicNames, type TopicNames } from '../../src/bus/topics';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';
import { Metrics } from '../../src/metrics/registry';
import { defaultSplitConfig, assignSplit } from '../../src/protocols/split';
import { chunkRecording } from '../../src/replay/chunker';
import { loadRecording } from '../../src/replay/loadRecording';
import type { BeatV1 } from '../../src/schemas/types';
import { OperatorAdapter } from '../../src/stream/operatorAdapter';
import { requireDataDir, uniquePrefix } from '../helpers/env';
import { replayRecords } from '../helpers/replay';

const dataDir = requireDataDir();
let broker: LocalBroker;
let bus: KafkaBus;
const created: string[] = [];

async function freshTopics(name: string): Promise<TopicNames> {
  const topics = topicNames(uniquePrefix(name));
  await bus.ensureTopics([
    { topic: topics.samples, partitions: 3 },
    { topic: topics.beats, partitions: 3 },
    { topic: topics.deadLetter, partitions: 1 },
  ]);
  created.push(topics.samples, topics.beats, topics.deadLetter);
  return topics;
}

before(async () => {
  broker = await ensureBroker();
  bus = new KafkaBus({ brokers: broker.brokers, clientId: 'it-preprocess' });
});

after(async () => {
  await bus?.deleteTopics(created).catch(() => undefined);
  await bus?.close();
  await broker?.stop();
});

describe('preprocess on Kafka', () => {
  it('record 100: the beats consumed back equal the in-process annotation-driven result', async () => {
    const topics = await freshTopics('preprocess');
    const split = defaultSplitConfig('intra');
    const metrics = new Metrics({ defaultMetrics: false });

    // In process: the same chain over the same chunks.
    const recording = await loadRecording(dataDir, '100', { lead: 'MLII', annotator: 'atr' });
    const chunks = [...chunkRecording(recording, 360)].map((c) => ({ ...c, acquisitionTimeMs: 0 }));
    const adapter = new OperatorAdapter(
      preprocessChain({ beatSampleRateHz: 125, form: 'kachuee', filter: false }, { next: () => undefined }),
    );
    const local = [...adapter.process(chunks), ...adapter.end()];
    const expected = new BeatTally();
    const expectedBeats = new Map<string, BeatV1>();
    for (const b of local) {
      const s = assignSplit(split, b.sourceId, b.rPeakSourceIndex) ?? null;
      const m = toBeatMessage(b, s, 0);
      expected.add(m.aamiClass, s);
      expectedBeats.set(`${m.sourceId}:${m.rPeakSampleIndex}`, m);
    }
    assert.equal(local.length, 2273);

    const beatsSink = new BatchingSink(await bus.producer());
    const dlq = new BatchingSink(await bus.producer());
    const samplesSource = bus.source({
      groupId: `${topics.samples}-g`,
      topics: [topics.samples],
      fromBeginning: true,
    });
    const run = runPreprocess(
      {
        split,
        beatSampleRateHz: 125,
        form: 'kachuee',
        filter: false,
        beatsTopic: topics.beats,
        deadLetterTopic: topics.deadLetter,
        expectedSources: new Set(['100']),
        timeoutMs: 120_000,
      },
      samplesSource,
      beatsSink,
      dlq,
      metrics,
      () => undefined,
    );
    await replayRecords(bus, dataDir, ['100'], topics.samples);
    const summary = await run.done;
    await samplesSource.stopped();
    assert.equal(summary.complete, true);
    assert.equal(summary.beats, 2273);
    assert.deepEqual(summary.bySplit, expected.summary().bySplit);

    const consumed: BeatV1[] = [];
    const beatsSource = bus.source({
      groupId: `${topics.beats}-g`,
      topics: [topics.beats],
      fromBeginning: true,
    });
    const counted = await runBeatCount(
      { expectedBeats: summary.beats, deadLetterTopic: topics.deadLetter, timeoutMs: 60_000 },
      beatsSource,
      dlq,
      metrics,
      (b) => consumed.push(b),
    );
    await beatsSource.stopped();
    await beatsSink.close();
    await dlq.close();
    assert.equal(counted.complete, true);
    assert.equal(counted.duplicates, 0);
    assert.deepEqual(counted.byClass, expected.summary().byClass);
    assert.deepEqual(counted.bySplit, expected.summary().bySplit);
    assert.equal(consumed.length, expectedBeats.size);
    for (const b of consumed) {
      const e = expectedBeats.get(`${b.sourceId}:${b.rPeakSampleIndex}`);
      assert.ok(e !== undefined, `unexpected beat ${b.rPeakSampleIndex}`);
      assert.deepEqual(
        [b.symbol, b.aamiClass, b.split, b.segmentation],
        [e.symbol, e.aamiClass, e.split, e.segmentation],
      );
      assert.deepEqual(b.samples, e.samples);
    }
    // Per-source sequence numbers are gap-free.
    assert.deepEqual(
      consumed.map((b) => b.sequenceNumber).sort((x, y) => x - y),
      consumed.map((_, i) => i),
    );
  });

  it('detect through Kafka gives the in-process detections', async () => {
    const topics = await freshTopics('detect');
    const recording = await loadRecording(dataDir, '105', { lead: 'MLII', annotator: undefined });
    const chunks = [...chunkRecording(recording, 360)].map((c) => ({ ...c, acquisitionTimeMs: 0 }));
    const local = detectChunks(chunks, { filter: false }).get('105');
    const dlq = new BatchingSink(await bus.producer());
    const source = bus.source({
      groupId: `${topics.samples}-d`,
      topics: [topics.samples],
      fromBeginning: true,
    });
    const running = runDetect(
      {
        filter: false,
        expectedSources: new Set(['105']),
        deadLetterTopic: topics.deadLetter,
        timeoutMs: 120_000,
      },
      source,
      dlq,
      new Metrics({ defaultMetrics: false }),
    );
    await replayRecords(bus, dataDir, ['105'], topics.samples);
    const result = await running;
    await source.stopped();
    await dlq.close();
    assert.equal(result.complete, true);
    assert.ok((local?.length ?? 0) > 2500);
    assert.deepEqual(result.detections.get('105'), local);
  });
});
