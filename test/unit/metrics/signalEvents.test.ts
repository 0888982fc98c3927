import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SignalEvent } from '../../../operators/types';
import { Metrics } from '../../../src/metrics/registry';
import { SignalEventRecorder } from '../../../src/metrics/signalEvents';

const event = (kind: SignalEvent['kind'], i: number): SignalEvent => ({
  sourceId: `p${i}`,
  kind,
  operator: 'sanitizeSamples',
  firstSampleIndex: i,
  sampleCount: 3,
  detail: 'x',
});

describe('SignalEventRecorder', () => {
  it('counts every event in ecg_signal_events_total and logs a bounded number of lines per kind', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const lines: string[] = [];
    const recorder = new SignalEventRecorder(metrics, 'preprocess', (l) => lines.push(l), 2);
    for (let i = 0; i < 5; i++) recorder.next(event('non-finite', i));
    recorder.next(event('sample-gap', 9));
    assert.deepEqual(recorder.totals, { 'non-finite': 5, 'sample-gap': 1 });
    const text = await metrics.registry.metrics();
    assert.match(text, /ecg_signal_events_total\{operator="sanitizeSamples",kind="non-finite"\} 5/);
    assert.match(text, /ecg_signal_events_total\{operator="sanitizeSamples",kind="sample-gap"\} 1/);
    assert.equal(lines.filter((l) => l.includes('non-finite at')).length, 2);
    assert.ok(lines.some((l) => l.includes('further non-finite events are counted, not logged')));
    assert.ok(lines[0].startsWith('preprocess: p0: non-finite at sample 0'));
    // A second recorder on the same registry shares the counter.
    new SignalEventRecorder(metrics, 'detect', () => undefined).next(event('non-finite', 1));
    assert.match(await metrics.registry.metrics(), /kind="non-finite"\} 6/);
  });
});
