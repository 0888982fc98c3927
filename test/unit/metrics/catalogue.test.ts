/**
 * The metric catalogue: every metric registered at construction (before first use), several registries in
 * one process, the no-op mode, the latency objective as a bucket edge, the TF backend setter, batch
 * instrumentation of a source, and every metric documented in docs/observability.md.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Subject } from 'rxjs';
import type { ConsumedBatch, Source } from '../../../src/bus/types';
import { instrumentSource } from '../../../src/metrics/instrument';
import { LATENCY_BUCKETS_SECONDS, LATENCY_OBJECTIVE_SECONDS, Metrics } from '../../../src/metrics/registry';
import { projectRoot } from '../../../src/util/projectRoot';

describe('metric catalogue', () => {
  it('registers the whole catalogue at construction, several registries side by side', async () => {
    const a = new Metrics();
    const b = new Metrics({ defaultMetrics: false });
    const names = b.metricNames();
    for (const name of [
      'ecg_stage_samples_total',
      'ecg_stage_beats_total',
      'ecg_predictions_total',
      'ecg_kafka_consumer_lag_messages',
      'ecg_consumed_batch_size_messages',
      'ecg_end_to_end_latency_seconds',
      'ecg_processing_latency_seconds',
      'ecg_training_lipschitz_smoothed',
      'ecg_training_growths_total',
      'ecg_training_ppe_parameters',
      'ecg_energy_joules_total',
      'ecg_co2eq_grams_total',
      'ecg_errors_total',
      'ecg_dead_letter_messages_total',
      'ecg_tf_backend_info',
    ])
      assert.ok(names.includes(name), name);
    for (const name of names) assert.match(name, /^ecg_[a-z0-9_]+$/);
    assert.ok(a.metricNames().includes('ecg_process_cpu_seconds_total'));
    assert.ok(!a.metricNames().includes('ecg_nodejs_active_handles_total'), 'a gauge named _total');
    a.samples.labels('replay').inc(5);
    assert.doesNotMatch(await b.registry.metrics(), /stage="replay"/);
  });

  it('disabled: same interface, records nothing, empty registry', async () => {
    const m = new Metrics({ enabled: false });
    m.samples.labels('replay').inc(3);
    m.endToEndLatency.labels('serve').observe(0.1);
    m.consumerLag.set({ group: 'g', topic: 't', partition: '0' }, 4);
    m.batchDuration.startTimer()();
    m.setTfBackend('tensorflow', '2.21.0');
    assert.deepEqual(m.metricNames(), []);
    assert.equal((await m.registry.metrics()).trim(), '');
  });

  it('latency histograms have a bucket edge at the 200 ms objective', async () => {
    assert.equal(LATENCY_OBJECTIVE_SECONDS, 0.2);
    assert.ok(LATENCY_BUCKETS_SECONDS.includes(0.2));
    const m = new Metrics({ defaultMetrics: false });
    m.processingLatency.labels('serve').observe(0.15);
    m.processingLatency.labels('serve').observe(0.25);
    const text = await m.registry.metrics();
    assert.match(text, /^ecg_processing_latency_seconds_bucket\{le="0\.2",stage="serve"\} 1$/m);
    assert.match(text, /^ecg_processing_latency_seconds_count\{stage="serve"\} 2$/m);
  });

  it('setTfBackend keeps exactly one backend series', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.setTfBackend('cpu', 'none');
    m.setTfBackend('tensorflow', '2.21.0');
    const lines = (await m.registry.metrics())
      .split('\n')
      .filter((l) => l.startsWith('ecg_tf_backend_info{'));
    assert.deepEqual(lines, ['ecg_tf_backend_info{backend="tensorflow",tf_version="2.21.0"} 1']);
  });

  it('instrumentSource records batch sizes and the time to ack, and passes batches through', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const batches = new Subject<ConsumedBatch>();
    const source: Source = { batches$: batches.asObservable(), stopped: async () => undefined };
    const acked: number[] = [];
    const seen: ConsumedBatch[] = [];
    const sub = instrumentSource(source, m, 'sample-check').batches$.subscribe((b) => seen.push(b));
    const batch = (n: number): ConsumedBatch => ({
      topic: 't',
      partition: n,
      messages: Array.from({ length: n }, (_, i) => ({
        topic: 't',
        partition: n,
        offset: String(i),
        key: null,
        value: Buffer.alloc(0),
        timestampMs: 0,
        headers: {},
      })),
      ack: () => acked.push(n),
    });
    batches.next(batch(3));
    batches.next(batch(40));
    seen.forEach((b) => b.ack());
    seen[0].ack(); // a second ack is passed on but timed once
    sub.unsubscribe();
    assert.deepEqual(acked, [3, 40, 3]);
    assert.deepEqual(
      seen.map((b) => b.messages.length),
      [3, 40],
    );
    const text = await m.registry.metrics();
    assert.match(text, /^ecg_consumed_batch_size_messages_sum\{stage="sample-check"\} 43$/m);
    assert.match(text, /^ecg_consumed_batch_size_messages_bucket\{le="5",stage="sample-check"\} 1$/m);
    assert.match(text, /^ecg_stage_batch_duration_seconds_count\{stage="sample-check"\} 2$/m);
    // Disabled metrics: the source itself, untouched.
    assert.equal(instrumentSource(source, new Metrics({ enabled: false }), 'x'), source);
  });

  it('every ecg_ metric is documented in docs/observability.md', () => {
    const doc = fs.readFileSync(path.join(projectRoot(), 'docs', 'observability.md'), 'utf8');
    const undocumented = new Metrics({ defaultMetrics: false })
      .metricNames()
      .filter((name) => !doc.includes(`\`${name}\``));
    assert.deepEqual(undocumented, []);
  });
});
