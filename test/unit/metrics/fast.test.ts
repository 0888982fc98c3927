/**
 * The fast counter and histogram children give exactly what prom-client's own metrics give for the same
 * calls (compared through the exposition text), including across reset, remove and zero, and validate
 * the same way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../../src/metrics/fast';

async function exposition(build: (registry: Registry) => void): Promise<string> {
  const registry = new Registry();
  build(registry);
  return registry.metrics();
}

/** A deterministic pseudo-random sequence, so both sides see the same values. */
function values(n: number): number[] {
  let x = 12345;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return (x / 2 ** 31) * 3 - 0.5; // some negative, some above the top bucket
  });
}

describe('fast metric children', () => {
  it('counter: children, direct calls, zero increments, reset and remove match prom-client', async () => {
    const run = (Ctor: typeof Counter) => (registry: Registry) => {
      const c = new Ctor({
        name: 'x_total',
        help: 'h',
        labelNames: ['stage', 'kind'],
        registers: [registry],
      });
      const a = c.labels('replay', 'a');
      for (let i = 0; i < 1000; i++) a.inc(i % 7);
      c.labels({ stage: 'serve', kind: 'b' }).inc();
      c.inc({ stage: 'replay', kind: 'a' }, 5);
      c.labels('idle', 'z').inc(0); // a zero increment still creates the series
      c.labels('gone', 'g').inc(3);
      c.remove('gone', 'g');
      a.inc(0.25);
    };
    assert.equal(await exposition(run(FastCounter)), await exposition(run(Counter)));

    const resetRun = (Ctor: typeof Counter) => (registry: Registry) => {
      const c = new Ctor({ name: 'y_total', help: 'h', labelNames: ['stage'], registers: [registry] });
      const child = c.labels('replay');
      child.inc(10);
      c.reset();
      child.inc(2);
    };
    assert.equal(await exposition(resetRun(FastCounter)), await exposition(resetRun(Counter)));
  });

  it('counter: reading it folds pending increments in, so every read is up to date', async () => {
    const c = new FastCounter({ name: 'z_total', help: 'h', labelNames: ['stage'], registers: [] });
    const child = c.labels('replay');
    child.inc(3);
    assert.equal((await c.get()).values[0].value, 3);
    child.inc(4);
    assert.equal((await c.get()).values[0].value, 7);
  });

  it('counter: rejects negative and non-finite increments and bad label sets, as prom-client does', () => {
    const c = new FastCounter({ name: 'w_total', help: 'h', labelNames: ['stage'], registers: [] });
    assert.throws(() => c.labels('a').inc(-1), /increment must be a finite number >= 0/);
    assert.throws(() => c.labels('a').inc(Infinity), /finite/);
    assert.throws(() => c.labels('a', 'b'), /Invalid number of arguments/);
  });

  it('histogram: children, direct calls, timers, reset, remove and zero match prom-client', async () => {
    const buckets = [0, 0.1, 0.2, 0.5, 1, 2];
    const run = (Ctor: typeof Histogram) => (registry: Registry) => {
      const h = new Ctor({
        name: 'lat_seconds',
        help: 'h',
        labelNames: ['stage'],
        buckets,
        registers: [registry],
      });
      const a = h.labels('sample-check');
      const b = h.labels({ stage: 'serve' });
      values(5000).forEach((v, i) => (i % 3 === 0 ? b : a).observe(v));
      for (const v of buckets) a.observe(v); // exactly on the edges
      h.observe({ stage: 'serve' }, 0.15);
      h.labels('gone').observe(1);
      h.remove('gone');
      h.labels('gone').observe(0.5); // recreated after removal
      h.zero({ stage: 'zeroed' });
      h.labels('zeroed').observe(0.05);
    };
    assert.equal(await exposition(run(FastHistogram)), await exposition(run(Histogram)));

    const resetRun = (Ctor: typeof Histogram) => (registry: Registry) => {
      const h = new Ctor({
        name: 'r_seconds',
        help: 'h',
        labelNames: ['stage'],
        buckets,
        registers: [registry],
      });
      const a = h.labels('x');
      values(100).forEach((v) => a.observe(v));
      h.reset();
      values(10).forEach((v) => a.observe(v));
      h.zero({ stage: 'x' });
      a.observe(0.3);
    };
    assert.equal(await exposition(resetRun(FastHistogram)), await exposition(resetRun(Histogram)));
  });

  it('histogram: child timers observe seconds; bad values and label sets are rejected', async () => {
    const h = new FastHistogram({
      name: 't_seconds',
      help: 'h',
      labelNames: ['stage'],
      buckets: [1],
      registers: [],
    });
    const end = h.labels('x').startTimer();
    const seconds = end() as unknown as number;
    assert.ok(seconds >= 0 && seconds < 1);
    h.labels('x').observe(0.5); // the cached fast path
    const { values: v } = await h.get();
    assert.equal(v.find((x) => x.metricName === 't_seconds_count')?.value, 2);
    assert.throws(() => h.labels('x').observe(NaN), /not a valid number/);
    assert.throws(() => h.labels('x', 'y'), /Invalid number of arguments/);
  });
});
