/**
 * The tracker's arithmetic with fake sources and a fake clock: PUE and carbon intensity, attribution of
 * each interval to the components active in it, span reports, metrics, and sources that fail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { energySettings } from '../../../src/energy/settings';
import type { EnergySource } from '../../../src/energy/source';
import { EnergyTracker } from '../../../src/energy/tracker';
import { Metrics } from '../../../src/metrics/registry';

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} != ${b}`);

/** Joules handed out per sample, in order (the tracker primes with the first). */
class FakeSource implements EnergySource {
  readonly description = 'fake';
  constructor(
    readonly device: 'cpu' | 'dram' | 'gpu',
    readonly method: EnergySource['method'],
    private readonly joules: number[],
  ) {}
  async sample(): Promise<number> {
    const j = this.joules.shift();
    if (j === undefined) throw new Error('no more readings');
    return j;
  }
}

function setup(
  sources: EnergySource[],
  settings = energySettings({ pue: 1.5, carbonIntensityGPerKwh: 400 }),
) {
  let now = 0;
  const metrics = new Metrics({ defaultMetrics: false });
  const errors: string[] = [];
  const tracker = new EnergyTracker(sources, settings, {
    metrics,
    now: () => now,
    onError: (_s, err) => errors.push((err as Error).message),
  });
  return { tracker, metrics, errors, advance: (ms: number) => (now += ms) };
}

async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, name);
  const { values } = await metric.get();
  const v = values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('energy tracker', () => {
  it('applies PUE and carbon intensity: kWh = PUE * J / 3.6e6, g = kWh * intensity', async () => {
    const { tracker, advance } = setup([new FakeSource('cpu', 'measured-rapl', [0, 3.6e6])]);
    await tracker.start();
    advance(10_000);
    const r = await tracker.stop();
    close(r.energyKwh, 1.5);
    close(r.co2eqGrams, 1.5 * 400);
    assert.equal(r.method, 'measured-rapl');
    assert.equal(r.estimated, false);
    assert.deepEqual([r.pue, r.carbonIntensityGPerKwh], [1.5, 400]);
    assert.deepEqual(r.devices, [{ device: 'cpu', method: 'measured-rapl', joules: 3.6e6 }]);
  });

  it('Carbontracker defaults: PUE 1.58, 481 g/kWh', () => {
    const s = energySettings();
    assert.deepEqual([s.pue, s.carbonIntensityGPerKwh], [1.58, 481]);
    assert.throws(() => energySettings({ pue: 0.9 }), /pue must be at least 1/);
    assert.throws(() => energySettings({ sampleIntervalSeconds: 30 }), /1-10 s/);
  });

  it('attributes an interval to the components active in it, by active time; idle time goes to other', async () => {
    const { tracker, metrics, advance } = setup([
      new FakeSource('cpu', 'estimated-cpu-load', [0, 1000, 600, 200]),
    ]);
    await tracker.start();
    // Interval 1: training for 3 s, then training and inference together for 3 s.
    const training = tracker.begin('training');
    advance(3000);
    const inference = tracker.begin('inference');
    advance(3000);
    await training.end();
    // end() sampled: 6 s elapsed, training active 6 s, inference 3 s -> 1000 J split 6:3.
    assert.deepEqual(tracker.report('training').devices[0].joules, 1000 * (6 / 9));
    close(tracker.report('inference').devices[0].joules, 1000 * (3 / 9));
    // Interval 2: inference alone for 2 s more -> all 600 J; interval 3: 2 s with nothing open -> other.
    advance(2000);
    const report = await inference.end();
    advance(2000);
    await tracker.sample();
    close(report.devices[0].joules, 1000 * (3 / 9) + 600);
    assert.equal(report.component, 'inference');
    close(report.seconds, 5);
    assert.equal(report.estimated, true);
    close(tracker.report('other').devices[0].joules, 200);
    close(tracker.report().devices[0].joules, 1800);
    // Facility joules on the metrics, per component, and CO2 in step with them.
    close(
      await counterValue(metrics, 'ecg_energy_joules_total', { component: 'training' }),
      1.5 * 1000 * (6 / 9),
    );
    close(
      await counterValue(metrics, 'ecg_co2eq_grams_total', { component: 'inference' }),
      ((1.5 * (1000 * (3 / 9) + 600)) / 3.6e6) * 400,
    );
    close(await counterValue(metrics, 'ecg_energy_device_joules_total', { device: 'cpu' }), 1800);
  });

  it('peek() reports a span so far and leaves it open; end() then includes what came after', async () => {
    const { tracker, advance } = setup([new FakeSource('cpu', 'measured-rapl', [0, 360, 720])]);
    await tracker.start();
    const span = tracker.begin('training');
    advance(4000);
    const soFar = await span.peek();
    close(soFar.devices[0].joules, 360);
    close(soFar.seconds, 4);
    close(soFar.energyKwh, (1.5 * 360) / 3.6e6);
    advance(6000);
    const total = await span.end();
    close(total.devices[0].joules, 360 + 720);
    close(total.seconds, 10);
    assert.equal(await span.peek(), total, 'a closed span peeks at its final report');
  });

  it('idle time: energy with no span open goes to other', async () => {
    const { tracker, metrics, advance } = setup([new FakeSource('cpu', 'measured-rapl', [0, 100, 50])]);
    await tracker.start();
    const span = tracker.begin('replay');
    advance(1000);
    await span.end();
    advance(1000);
    await tracker.sample();
    close(tracker.report('replay').devices[0].joules, 100);
    close(tracker.report('other').devices[0].joules, 50);
    close(await counterValue(metrics, 'ecg_energy_joules_total', { component: 'other' }), 75);
  });

  it('attribute() wraps a function in a span, also when it throws', async () => {
    const { tracker, advance } = setup([new FakeSource('cpu', 'measured-rapl', [0, 40, 60])]);
    await tracker.start();
    const value = await tracker.attribute('preprocessing', async () => {
      advance(500);
      return 7;
    });
    assert.equal(value, 7);
    await assert.rejects(
      tracker.attribute('preprocessing', async () => {
        advance(500);
        throw new Error('boom');
      }),
      /boom/,
    );
    close(tracker.report('preprocessing').devices[0].joules, 100);
  });

  it('several devices: methods joined, estimated if any is', async () => {
    const { tracker, advance } = setup([
      new FakeSource('cpu', 'measured-rapl', [0, 10]),
      new FakeSource('gpu', 'measured-nvml', [0, 30]),
      new FakeSource('dram', 'estimated-memory', [0, 2]),
    ]);
    await tracker.start();
    advance(1000);
    const r = await tracker.stop();
    assert.equal(r.method, 'measured-rapl+measured-nvml+estimated-memory');
    assert.equal(r.estimated, true);
    close(r.energyKwh, (42 * 1.5) / 3.6e6);
  });

  it('a failing source counts 0 for the interval, is reported, and counted as an error', async () => {
    const { tracker, metrics, errors, advance } = setup([
      new FakeSource('cpu', 'measured-rapl', [0, 10]),
      new FakeSource('gpu', 'measured-nvml', [0]),
    ]);
    await tracker.start();
    advance(1000);
    const r = await tracker.stop();
    close(r.devices[0].joules, 10);
    close(r.devices[1].joules, 0);
    assert.deepEqual(errors, ['no more readings']);
    assert.equal(
      await counterValue(metrics, 'ecg_errors_total', { stage: 'energy', code: 'ENERGY_SAMPLE' }),
      1,
    );
  });

  it('publishes settings and methods on the metrics', async () => {
    const { tracker, metrics } = setup([new FakeSource('cpu', 'estimated-cpu-load', [0, 0])]);
    await tracker.stop();
    const text = await metrics.registry.metrics();
    assert.match(text, /^ecg_energy_pue_ratio 1\.5$/m);
    assert.match(text, /^ecg_carbon_intensity_grams_per_kilowatt_hour 400$/m);
    assert.match(text, /^ecg_energy_method_info\{device="cpu",method="estimated-cpu-load"\} 1$/m);
    assert.ok(tracker.describe()[0].includes('ESTIMATED'));
  });

  it('detect() estimates where no counter is readable, and says why', async () => {
    const tracker = await EnergyTracker.detect(
      energySettings({ raplRoot: '/nonexistent/powercap', nvidiaSmi: 'none', cpuTdpWatts: 30 }),
    );
    assert.deepEqual(
      tracker.sources.map((s) => [s.device, s.method]),
      [
        ['cpu', 'estimated-cpu-load'],
        ['dram', 'estimated-memory'],
      ],
    );
    assert.match(tracker.sources[0].description, /TDP 30 W/);
    const lines = tracker.describe().join('\n');
    assert.match(lines, /ESTIMATED/);
    assert.match(lines, /not measured: CPU: no powercap tree/);
    assert.match(lines, /PUE 1\.58, carbon intensity 481 g\/kWh/);
  });
});
