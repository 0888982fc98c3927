/**
 * consumeDecodedRounds: batches handed over together are handled in one round (one handler call, one
 * flush, then every batch acked); a batch arriving during a round waits for the next one; nothing is acked
 * before the round's outputs are flushed; bad messages are dead-lettered and the round goes on.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Subject } from 'rxjs';
import { consumeDecodedRounds } from '../../../src/bus/consume';
import { DeadLetterWriter } from '../../../src/bus/deadLetter';
import { BatchingSink } from '../../../src/bus/sink';
import type { ConsumedBatch } from '../../../src/bus/types';
import { getCodecs } from '../../../src/schemas/codec';
import type { SampleChunkV1 } from '../../../src/schemas/types';
import { servableChunkProblem } from '../../../src/serving/engine';
import { RecordingProducer } from '../../helpers/recordingProducer';

const chunk = (sourceId: string, sequenceNumber: number): SampleChunkV1 => ({
  sourceId,
  lead: 'II',
  sampleRateHz: 360,
  firstSampleIndex: sequenceNumber * 360,
  acquisitionTimeMs: 1000 * sequenceNumber,
  sequenceNumber,
  gainAduPerMv: 200,
  baselineAdu: 0,
  samples: [1, 2, 3],
  annotations: [],
  endOfStream: false,
});

function batch(
  partition: number,
  values: (SampleChunkV1 | Buffer)[],
  acks: string[],
): ConsumedBatch & { acked: () => boolean } {
  let acked = false;
  return {
    topic: 'samples',
    partition,
    messages: values.map((v, i) => ({
      topic: 'samples',
      partition,
      offset: String(i),
      key: Buffer.isBuffer(v) ? null : v.sourceId,
      value: Buffer.isBuffer(v) ? v : getCodecs().SampleChunk.encode(v),
      timestampMs: 0,
      headers: {},
    })),
    ack: () => {
      acked = true;
      acks.push(`p${partition}`);
    },
    acked: () => acked,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

function setup() {
  const producer = new RecordingProducer();
  const out = new BatchingSink(producer, { lingerMs: 0 });
  const deadLetterSink = new BatchingSink(producer, { lingerMs: 0 });
  const deadLetters = new DeadLetterWriter(deadLetterSink, 'dlq', 'test');
  const batches$ = new Subject<ConsumedBatch>();
  const rounds: string[][] = [];
  const emitted: number[] = [];
  const subscription = consumeDecodedRounds<SampleChunkV1>({
    source: { batches$, stopped: async () => undefined },
    codec: getCodecs().SampleChunk,
    deadLetters,
    sinks: [out, deadLetterSink],
    handler: async (items, batches) => {
      rounds.push(items.map((i) => `${i.value.sourceId}:${i.value.sequenceNumber}`));
      assert.equal(batches.length, new Set(items.map((i) => i.message.partition)).size);
      for (const i of items)
        await out.write('out', { key: i.value.sourceId, value: Buffer.from(String(i.value.sequenceNumber)) });
    },
  }).subscribe({ next: (n) => emitted.push(n) });
  return { producer, batches$, rounds, emitted, subscription };
}

describe('consumeDecodedRounds', () => {
  it('handles the batches handed over together in one round, and acks them only after the flush', async () => {
    const t = setup();
    const acks: string[] = [];
    t.producer.hold();
    const b0 = batch(0, [chunk('a', 0), chunk('a', 1)], acks);
    const b1 = batch(1, [chunk('b', 0)], acks);
    t.batches$.next(b0);
    t.batches$.next(b1);
    await tick();
    await tick();
    assert.deepEqual(t.rounds, [['a:0', 'a:1', 'b:0']], 'one round, each batch in order');
    assert.deepEqual(acks, [], 'nothing acked while the outputs are not acknowledged');
    // A batch arriving during the round waits for the next round.
    const b2 = batch(2, [chunk('c', 0)], acks);
    t.batches$.next(b2);
    await tick();
    assert.equal(t.rounds.length, 1);
    t.producer.release();
    for (let i = 0; i < 5 && t.rounds.length < 2; i++) await tick();
    assert.deepEqual(acks.slice(0, 2), ['p0', 'p1']);
    assert.deepEqual(t.rounds[1], ['c:0']);
    for (let i = 0; i < 5 && acks.length < 3; i++) await tick();
    assert.deepEqual(acks, ['p0', 'p1', 'p2']);
    assert.deepEqual(t.emitted, [3, 1]);
    assert.deepEqual(
      t.producer.sent.filter((s) => s.topic === 'out').map((s) => s.message.value.toString()),
      ['0', '1', '0', '0'],
    );
    t.subscription.unsubscribe();
  });

  it('dead-letters a message that does not decode and carries on with the rest of the round', async () => {
    const t = setup();
    const acks: string[] = [];
    t.batches$.next(batch(0, [chunk('a', 0), Buffer.from('not avro'), chunk('a', 1)], acks));
    t.batches$.next(batch(3, [chunk('d', 0)], acks));
    for (let i = 0; i < 10 && acks.length < 2; i++) await tick();
    assert.deepEqual(t.rounds, [['a:0', 'a:1', 'd:0']]);
    assert.deepEqual(acks, ['p0', 'p3']);
    const dead = t.producer.sent.filter((s) => s.topic === 'dlq');
    assert.equal(dead.length, 1);
    assert.equal(getCodecs().DeadLetter.decode(dead[0].message.value).sourcePartition, 0);
    t.subscription.unsubscribe();
  });

  it('dead-letters a message that decodes but fails validation (serve: a rate the chain cannot take)', async () => {
    const producer = new RecordingProducer();
    const sink = new BatchingSink(producer, { lingerMs: 0 });
    const batches$ = new Subject<ConsumedBatch>();
    const acks: string[] = [];
    const seen: string[] = [];
    consumeDecodedRounds<SampleChunkV1>({
      source: { batches$, stopped: async () => undefined },
      codec: getCodecs().SampleChunk,
      deadLetters: new DeadLetterWriter(sink, 'dlq', 'serve'),
      validate: servableChunkProblem,
      sinks: [sink],
      handler: (items) => {
        for (const i of items) seen.push(`${i.value.sourceId}:${i.value.sampleRateHz}`);
      },
    }).subscribe();
    batches$.next(
      batch(
        0,
        [chunk('a', 0), { ...chunk('b', 0), sampleRateHz: 1e9 }, { ...chunk('c', 0), sampleRateHz: 0.001 }],
        acks,
      ),
    );
    for (let i = 0; i < 10 && acks.length < 1; i++) await tick();
    assert.deepEqual(seen, ['a:360']);
    assert.deepEqual(acks, ['p0']);
    const dead = producer.sent.map((s) => getCodecs().DeadLetter.decode(s.message.value));
    assert.deepEqual(
      dead.map((d) => [d.errorCode, d.sourceOffset]),
      [
        ['MESSAGE_VALIDATION', '1'],
        ['MESSAGE_VALIDATION', '2'],
      ],
    );
    assert.match(dead[0].reason, /source b: sampling rate 1000000000 Hz is outside the 50-10000 Hz/);
  });

  it('fails without acking when the handler fails', async () => {
    const producer = new RecordingProducer();
    const sink = new BatchingSink(producer, { lingerMs: 0 });
    const batches$ = new Subject<ConsumedBatch>();
    const acks: string[] = [];
    const failure = new Promise<unknown>((resolve) => {
      consumeDecodedRounds<SampleChunkV1>({
        source: { batches$, stopped: async () => undefined },
        codec: getCodecs().SampleChunk,
        deadLetters: new DeadLetterWriter(sink, 'dlq', 'test'),
        sinks: [sink],
        handler: () => {
          throw new Error('boom');
        },
      }).subscribe({ error: resolve });
    });
    batches$.next(batch(0, [chunk('a', 0)], acks));
    assert.match(String(await failure), /boom/);
    assert.deepEqual(acks, []);
  });

  it('a reader passing over the same log many times dead-letters each bad message once', async () => {
    const producer = new RecordingProducer();
    const sink = new BatchingSink(producer, { lingerMs: 0 });
    const counted: string[] = [];
    const once = new DeadLetterWriter(
      sink,
      'dlq',
      'train',
      { inc: (l) => counted.push(l.reason) },
      { oncePerMessage: true },
    );
    const every = new DeadLetterWriter(sink, 'dlq', 'serve');
    const acks: string[] = [];
    const bad = batch(0, [Buffer.from('not avro')], acks).messages[0];
    const other = { ...bad, offset: '7' };
    for (let pass = 0; pass < 3; pass++) {
      await once.write(bad, new Error('bad'));
      await once.write(other, new Error('bad'));
    }
    await every.write(bad, new Error('bad'));
    await every.write(bad, new Error('bad'));
    await sink.flush();
    const stages = producer.sent.map((s) => getCodecs().DeadLetter.decode(s.message.value).stage);
    assert.deepEqual(stages, ['train', 'train', 'serve', 'serve']);
    assert.equal(counted.length, 2);
  });
});
