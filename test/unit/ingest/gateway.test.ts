import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, it } from 'node:test';
import { DeadLetterWriter } from '../../../src/bus/deadLetter';
import { BatchingSink } from '../../../src/bus/sink';
import type { OutgoingMessage, Producer } from '../../../src/bus/types';
import {
  DEFAULT_GATEWAY_CONFIG,
  IngestGateway,
  IngestUnavailableError,
  type GatewayConfig,
  type IngestEvent,
} from '../../../src/ingest/gateway';
import { parseAck } from '../../../src/ingest/hl7';
import { HttpIngestServer } from '../../../src/ingest/httpIngest';
import { mllpFrame } from '../../../src/ingest/mllp';
import { MllpServer } from '../../../src/ingest/mllpServer';
import { buildPcd01Message, MllpClient } from '../../../src/ingest/simulator';
import { Metrics } from '../../../src/metrics/registry';
import { getCodecs } from '../../../src/schemas/codec';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const origin = { transport: 'mllp' as const, listener: 'mllp://test', peer: 'peer:1', sequence: 0 };
const message = (
  controlId: string,
  startSeconds: number,
  values: number[] = [0.1, -0.25, 1.005, 0],
  patientId = 'P-1',
) =>
  buildPcd01Message({
    controlId,
    patientId,
    leadCode: '131330',
    leadName: 'II',
    sampleRateHz: 4,
    startTimeMs: T0 + startSeconds * 1000,
    valuesMv: values,
    decimals: 4,
  });

/** Messages of 4 samples at 4 Hz keep the arithmetic readable: the gateway is told to take such rates. */
function setup(config: Partial<GatewayConfig> = {}) {
  const sent: { topic: string; message: OutgoingMessage }[] = [];
  /** Sends to the samples topic that fail before any succeeds again (a broker outage). */
  const outage = { failures: 0 };
  const producer: Producer = {
    send: async (topic, messages) => {
      if (topic === 'samples' && outage.failures > 0) {
        outage.failures--;
        throw new Error('broker unreachable');
      }
      for (const m of messages) sent.push({ topic, message: m });
    },
    close: async () => undefined,
  };
  const metrics = new Metrics({ defaultMetrics: false });
  const events: IngestEvent[] = [];
  const deadLetterSink = new BatchingSink(producer);
  const gateway = new IngestGateway(
    { ...DEFAULT_GATEWAY_CONFIG, samplesTopic: 'samples', sampleRateRangeHz: [1, 10_000], ...config },
    {
      samplesSink: new BatchingSink(producer),
      deadLetterSink,
      deadLetters: new DeadLetterWriter(deadLetterSink, 'dlq', 'ingest', {
        inc: (l) => metrics.deadLetters.inc(l),
      }),
      metrics,
      log: () => undefined,
      onEvent: (e) => events.push(e),
    },
  );
  const chunks = () =>
    sent.filter((s) => s.topic === 'samples').map((s) => getCodecs().SampleChunk.decode(s.message.value));
  const deadLetters = () =>
    sent.filter((s) => s.topic === 'dlq').map((s) => getCodecs().DeadLetter.decode(s.message.value));
  return { gateway, metrics, events, chunks, deadLetters, outage };
}

describe('ingest gateway', () => {
  it('ACKs a good message with AA after publishing its samples in ADC units at 1000 ADU/mV', async () => {
    const { gateway, chunks } = setup();
    const { ack, outcome } = await gateway.handleHl7(Buffer.from(message('C1', 0)), origin);
    assert.deepEqual(parseAck(ack), { code: 'AA', controlId: 'C1', text: '' });
    assert.equal(outcome.published, 1);
    const [c] = chunks();
    assert.deepEqual(
      { ...c, samples: [...c.samples] },
      {
        sourceId: 'P-1',
        lead: 'II',
        sampleRateHz: 4,
        firstSampleIndex: 0,
        acquisitionTimeMs: T0,
        sequenceNumber: 0,
        gainAduPerMv: 1000,
        baselineAdu: 0,
        samples: [100, -250, 1005, 0],
        annotations: [],
        endOfStream: false,
      },
    );
  });

  it('NAKs unusable messages with the reason, dead-letters them, counts them, and publishes nothing', async () => {
    const { gateway, chunks, deadLetters, metrics } = setup();
    const bad = await gateway.handleHl7(Buffer.from(message('C2', 0).replace('1.0050', 'x')), origin);
    const ack = parseAck(bad.ack);
    assert.equal(ack?.code, 'AE');
    assert.equal(ack?.controlId, 'C2');
    assert.match(ack?.text ?? '', /sample 3 "x" is not a number/);
    const reject = await gateway.handleHl7(Buffer.from('PID|||1'), origin);
    assert.equal(parseAck(reject.ack)?.code, 'AR');
    assert.equal(chunks().length, 0);
    const dl = deadLetters();
    assert.deepEqual(
      dl.map((d) => d.errorCode),
      ['HL7_INVALID', 'HL7_REJECTED'],
    );
    assert.match(dl[0].reason, /not a number/);
    assert.equal(dl[0].sourceTopic, 'mllp://test');
    const text = await metrics.registry.metrics();
    assert.match(text, /ecg_errors_total\{stage="ingest",code="HL7_INVALID"\} 1/);
    assert.match(text, /ecg_dead_letter_messages_total\{stage="ingest",reason="HL7_REJECTED"\} 1/);
  });

  it('refuses unknown patients when a patient list is configured', async () => {
    const { gateway } = setup({ knownPatients: new Set(['P-2']) });
    const ack = parseAck((await gateway.handleHl7(Buffer.from(message('C3', 0)), origin)).ack);
    assert.equal(ack?.code, 'AE');
    assert.match(ack?.text ?? '', /unknown patient "P-1"/);
  });

  it('reports gaps and overlaps as events and metrics, and does not publish a retransmission twice', async () => {
    const { gateway, events, chunks, metrics } = setup();
    await gateway.handleHl7(Buffer.from(message('A', 0)), origin);
    await gateway.handleHl7(Buffer.from(message('B', 3)), origin); // 2 s missing
    await gateway.handleHl7(Buffer.from(message('B', 3)), origin); // resent after a lost ACK
    await gateway.handleHl7(Buffer.from(message('C', 3.5)), origin); // starts 0.5 s early
    assert.deepEqual(
      events.map((e) => e.kind),
      ['gap', 'duplicate', 'overlap'],
    );
    assert.deepEqual(
      chunks().map((c) => [c.firstSampleIndex, c.samples.length, c.sequenceNumber]),
      [
        [0, 4, 0],
        [12, 4, 1],
        [16, 2, 2],
      ],
    );
    const text = await metrics.registry.metrics();
    assert.match(text, /ecg_ingest_discontinuities_total\{kind="gap"\} 1/);
    assert.match(text, /ecg_ingest_discontinuities_total\{kind="overlap"\} 2/);
  });
});

describe('ingest gateway: bus failures', () => {
  it('does not ACK or refuse a message the bus did not take, and publishes its resend in its place', async () => {
    const { gateway, chunks, deadLetters, metrics, events, outage } = setup();
    await gateway.handleHl7(Buffer.from(message('A', 0)), origin);
    outage.failures = 1;
    await assert.rejects(gateway.handleHl7(Buffer.from(message('B', 1)), origin), IngestUnavailableError);
    assert.equal(deadLetters().length, 0, 'not bad input: nothing dead-lettered');
    // The sender resends B (no ACK came): it is placed as if first sent, not dropped as a retransmission.
    const again = await gateway.handleHl7(Buffer.from(message('B', 1)), origin);
    assert.equal(parseAck(again.ack)?.code, 'AA');
    assert.equal(again.outcome.published, 1);
    assert.deepEqual(
      chunks().map((c) => [c.firstSampleIndex, c.sequenceNumber]),
      [
        [0, 0],
        [4, 1],
      ],
    );
    assert.deepEqual(events, [], 'no false discontinuity');
    assert.match(
      await metrics.registry.metrics(),
      /ecg_errors_total\{stage="ingest",code="INGEST_UNAVAILABLE"\} 1/,
    );
  });
});

describe('ingest gateway: sampling rates', () => {
  it('refuses a sampling rate outside the live range with AE and the reason, dead-lettered', async () => {
    const { gateway, chunks, deadLetters } = setup({
      sampleRateRangeHz: DEFAULT_GATEWAY_CONFIG.sampleRateRangeHz,
    });
    for (const [id, rate] of [
      ['R1', '1000000000'],
      ['R2', '0.001'],
    ]) {
      const text = message(id, 0).replace(/(MDC_ATTR_SAMP_RATE\^MDC\|[\d.]+\|)4\|/, `$1${rate}|`);
      assert.notEqual(text, message(id, 0), 'the rate was replaced');
      const ack = parseAck((await gateway.handleHl7(Buffer.from(text), origin)).ack);
      assert.equal(ack?.code, 'AE');
      assert.match(ack?.text ?? '', /outside the 50-10000 Hz accepted/);
    }
    assert.equal(chunks().length, 0);
    assert.equal(deadLetters().length, 2);
  });
});

describe('MLLP listener', () => {
  it('answers split and coalesced frames in order, NAKs a truncated one, and keeps serving after bad input', async () => {
    const { gateway, chunks } = setup();
    const server = new MllpServer(gateway, { host: '127.0.0.1', port: 0 }, () => undefined);
    const port = await server.listen();
    try {
      const client = new MllpClient('127.0.0.1', port);
      await client.connect();
      const one = mllpFrame(message('M1', 0));
      client.writeRaw(one.subarray(0, 10));
      await new Promise((r) => setTimeout(r, 20));
      client.writeRaw(Buffer.concat([one.subarray(10), mllpFrame(message('M2', 1)), Buffer.from('noise')]));
      assert.equal(parseAck(await client.nextAck(5000))?.controlId, 'M1');
      assert.equal(parseAck(await client.nextAck(5000))?.controlId, 'M2');
      // A frame cut off by the next start byte: NAK for the first (its head names it), AA for the second.
      client.writeRaw(
        Buffer.concat([
          Buffer.from([0x0b]),
          Buffer.from(message('M3', 2).slice(0, 160)),
          mllpFrame(message('M4', 3)),
        ]),
      );
      const nak = parseAck(await client.nextAck(5000));
      assert.deepEqual([nak?.code, nak?.controlId], ['AR', 'M3']);
      assert.equal(parseAck(await client.nextAck(5000))?.controlId, 'M4');
      client.writeRaw(Buffer.from([0x0b, 0x41]));
      client.close();
      const again = new MllpClient('127.0.0.1', port);
      const ack = await again.send(message('M5', 4), 5000);
      assert.equal(ack.code, 'AA');
      again.close();
      assert.deepEqual(
        chunks().map((c) => c.sequenceNumber),
        [0, 1, 2, 3],
      );
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(server.stats.framingErrors >= 2, `framing errors ${server.stats.framingErrors}`);
    } finally {
      await server.close();
    }
  });
});

describe('MLLP listener after a bus failure', () => {
  it('closes the connection without an ACK and does not process the messages queued behind the failed one', async () => {
    const { gateway, chunks, outage } = setup();
    const server = new MllpServer(gateway, { host: '127.0.0.1', port: 0 }, () => undefined);
    const port = await server.listen();
    try {
      const client = new MllpClient('127.0.0.1', port);
      await client.connect();
      outage.failures = 1;
      // Two messages in one write: the first is not published (outage), so the second must not be either
      // (it would land ahead of the first's resend).
      client.writeRaw(Buffer.concat([mllpFrame(message('Q1', 0)), mllpFrame(message('Q2', 1))]));
      await assert.rejects(client.nextAck(5000), /closed/);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(chunks().length, 0);
      // The sender reconnects and resends both, in order.
      const again = new MllpClient('127.0.0.1', port);
      assert.equal((await again.send(message('Q1', 0), 5000)).code, 'AA');
      assert.equal((await again.send(message('Q2', 1), 5000)).code, 'AA');
      again.close();
      assert.deepEqual(
        chunks().map((c) => [c.firstSampleIndex, c.sequenceNumber]),
        [
          [0, 0],
          [4, 1],
        ],
      );
    } finally {
      await server.close();
    }
  });
});

describe('JSON over HTTP', () => {
  const post = (port: number, body: string) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/waveforms',
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('answers 503 with retry when the bus did not take a valid message, and takes the resend', async () => {
    const { gateway, chunks, deadLetters, outage } = setup();
    const server = new HttpIngestServer(
      gateway,
      { host: '127.0.0.1', port: 0, maxBodyBytes: 2000, maxSamplesPerLead: 100 },
      () => undefined,
    );
    const port = await server.listen();
    const body = JSON.stringify({
      messageId: 'u1',
      patientId: 'P-9',
      lead: 'II',
      sampleRateHz: 250,
      startTime: T0,
      samples: [0.1, 0.2],
    });
    try {
      outage.failures = 1;
      const refused = await post(port, body);
      assert.deepEqual([refused.status, refused.body.ack, refused.body.retry], [503, 'AR', true]);
      assert.equal(deadLetters().length, 0);
      const again = await post(port, body);
      assert.deepEqual([again.status, again.body.ack, again.body.published], [200, 'AA', 1]);
      assert.deepEqual(
        chunks().map((c) => [c.firstSampleIndex, c.sequenceNumber]),
        [[0, 0]],
      );
    } finally {
      await server.close();
    }
  });

  it('accepts a valid message and refuses invalid ones with the same rules', async () => {
    const { gateway, chunks } = setup();
    const server = new HttpIngestServer(
      gateway,
      { host: '127.0.0.1', port: 0, maxBodyBytes: 2000, maxSamplesPerLead: 100 },
      () => undefined,
    );
    const port = await server.listen();
    try {
      const ok = await post(
        port,
        JSON.stringify({
          messageId: 'j1',
          patientId: 'P-9',
          lead: 'II',
          sampleRateHz: 250,
          startTime: T0,
          unit: 'uV',
          samples: [10, -20, 30],
        }),
      );
      assert.deepEqual([ok.status, ok.body.ack], [200, 'AA']);
      assert.deepEqual([...chunks()[0].samples], [10, -20, 30]);
      const badSample = await post(
        port,
        JSON.stringify({
          messageId: 'j2',
          patientId: 'P-9',
          lead: 'II',
          sampleRateHz: 250,
          startTime: T0,
          samples: [1, 'x'],
        }),
      );
      assert.deepEqual([badSample.status, badSample.body.ack], [400, 'AE']);
      assert.match(String(badSample.body.error), /sample 2/);
      const noRate = await post(
        port,
        JSON.stringify({ messageId: 'j3', patientId: 'P-9', lead: 'II', startTime: T0, samples: [1] }),
      );
      assert.match(String(noRate.body.error), /sampleRateHz/);
      const notJson = await post(port, '{nope');
      assert.deepEqual([notJson.status, notJson.body.ack], [400, 'AE']);
      const big = await post(
        port,
        JSON.stringify({
          messageId: 'j4',
          patientId: 'P-9',
          lead: 'II',
          sampleRateHz: 250,
          startTime: T0,
          samples: new Array(1000).fill(1),
        }),
      );
      assert.equal(big.status, 413);
    } finally {
      await server.close();
    }
  });
});
