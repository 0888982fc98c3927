/**
 * Turning the signal operators' bad-input events into a metric and log lines. Operators only emit
 * `SignalEvent`s on a side output; pipelines subscribe this recorder to it. The counter is
 * `ecg_signal_events_total{operator, kind}` (bounded labels; the source id goes to the log, never into a
 * label). Log lines are rate-limited per kind so that a source sending garbage cannot flood stderr; the
 * totals are always exact.
 */
import { Counter } from 'prom-client';
import type { SignalEvent } from '../../operators/types';
import type { Metrics } from './registry';

const NAME = 'ecg_signal_events_total';

function eventCounter(metrics: Metrics): Counter<'operator' | 'kind'> {
  const existing = metrics.registry.getSingleMetric(NAME);
  if (existing !== undefined) return existing as Counter<'operator' | 'kind'>;
  return new Counter({
    name: NAME,
    help: 'Bad-input spans and stream discontinuities found by the signal operators (skipped and reported), by operator and kind.',
    labelNames: ['operator', 'kind'],
    registers: [metrics.registry],
  });
}

export class SignalEventRecorder {
  private readonly counter: Counter<'operator' | 'kind'>;
  private readonly logged = new Map<string, number>();
  readonly totals: Record<string, number> = {};

  constructor(
    metrics: Metrics,
    private readonly stage: string,
    private readonly log: (line: string) => void,
    private readonly maxLinesPerKind = 10,
  ) {
    this.counter = eventCounter(metrics);
  }

  next(event: SignalEvent): void {
    this.counter.inc({ operator: event.operator, kind: event.kind });
    this.totals[event.kind] = (this.totals[event.kind] ?? 0) + 1;
    const n = (this.logged.get(event.kind) ?? 0) + 1;
    this.logged.set(event.kind, n);
    if (n <= this.maxLinesPerKind) {
      this.log(
        `${this.stage}: ${event.sourceId}: ${event.kind} at sample ${event.firstSampleIndex} (${event.operator}): ${event.detail}`,
      );
      if (n === this.maxLinesPerKind)
        this.log(`${this.stage}: further ${event.kind} events are counted, not logged`);
    }
  }
}
