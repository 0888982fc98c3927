import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runReplay } from '../../../pipelines/replay';
import { MemoryBus } from '../../../src/bus/memoryBus';
import { BatchingSink } from '../../../src/bus/sink';
import type { OutgoingMessage, Producer } from '../../../src/bus/types';
import { Metrics } from '../../../src/metrics/registry';
import { getCodecs } from '../../../src/schemas/codec';
import { tempDir, writeRecord } from '../wfdb/fixtures';

describe('replay pacing', () => {
  it('paces at real time x speed, never publishing a chunk before its last sample is acquired', async () => {
    // 4 s of a 250 Hz lead in microvolts, with no MLII: replay must fall back to the first signal.
    const dir = await tempDir('ecgflow-pacing-');
    const samples = Int16Array.from({ length: 1000 }, (_, i) => Math.round(500 * Math.sin(i / 10)));
    await writeRecord(dir, 'p1', 250, 16, [{ samples, description: 'II', gain: 1, units: 'uV' }]);
    const bus = new MemoryBus();
    await bus.ensureTopics([{ topic: 's', partitions: 1 }]);
    const inner = await bus.producer();
    const published: { message: OutgoingMessage; atMs: number }[] = [];
    const recording: Producer = {
      send: async (topic, messages) => {
        const atMs = Date.now();
        for (const message of messages) published.push({ message, atMs });
        await inner.send(topic, messages);
      },
      close: () => inner.close(),
    };
    const speed = 20; // 4 s of signal in 0.2 s
    const summary = await runReplay(
      {
        dataDir: dir,
        records: ['p1'],
        speed,
        lead: 'MLII',
        chunkSeconds: 1,
        annotator: undefined,
        samplesTopic: 's',
      },
      new BatchingSink(recording, { lingerMs: 0 }),
      new Metrics({ defaultMetrics: false }),
    );
    assert.deepEqual([summary.records, summary.samples, summary.messages], [1, 1000, 4]);

    const chunks = published.map((p) => ({
      ...getCodecs().SampleChunk.decode(p.message.value),
      atMs: p.atMs,
    }));
    assert.deepEqual(
      chunks.map((c) => c.firstSampleIndex),
      [0, 250, 500, 750],
    );
    assert.equal(chunks[0].lead, 'II');
    assert.equal(chunks[0].gainAduPerMv, 1000, 'uV gain converted to ADC units per mV');
    const msPerChunk = 1000 / speed;
    for (let k = 1; k < chunks.length; k++) {
      const step = chunks[k].acquisitionTimeMs - chunks[k - 1].acquisitionTimeMs;
      assert.ok(Math.abs(step - msPerChunk) <= 1, `acquisition times ${msPerChunk} ms apart, got ${step}`);
    }
    for (const c of chunks) {
      const lastSampleAcquiredMs = c.acquisitionTimeMs + (c.samples.length * 1000) / 250 / speed;
      assert.ok(
        c.atMs >= lastSampleAcquiredMs - 1,
        `chunk ${c.sequenceNumber} published before its last sample`,
      );
    }
  });
});
