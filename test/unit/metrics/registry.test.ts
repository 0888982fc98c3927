import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, serveMetrics } from '../../../src/metrics/registry';

describe('metrics endpoint', () => {
  it('serves per-stage counters in the Prometheus text format at /metrics', async () => {
    const metrics = new Metrics();
    metrics.samples.labels('replay').inc(360);
    metrics.messages.labels('replay').inc();
    metrics.deadLetters.inc({ stage: 'sample-check', reason: 'MESSAGE_DECODE' });
    const server = await serveMetrics(metrics.registry, 0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const body = await res.text();
      assert.match(body, /^ecg_stage_samples_total\{stage="replay"\} 360$/m);
      assert.match(body, /^ecg_stage_messages_total\{stage="replay"\} 1$/m);
      assert.match(
        body,
        /^ecg_dead_letter_messages_total\{stage="sample-check",reason="MESSAGE_DECODE"\} 1$/m,
      );
      assert.match(body, /^ecg_process_cpu_seconds_total /m);
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/nope`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
