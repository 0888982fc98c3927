/**
 * Energy settings from flags, environment and defaults, the same precedence as every other setting:
 * flag, then environment variable, then default; bad values name the setting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveEnergySettings } from '../../../src/cli/observability';

describe('energy settings', () => {
  it('defaults to Carbontracker PUE 1.58 and 481 g/kWh, 5 s sampling, auto method', () => {
    const s = resolveEnergySettings({}, {});
    assert.deepEqual(
      [s.pue, s.carbonIntensityGPerKwh, s.sampleIntervalSeconds, s.method],
      [1.58, 481, 5, 'auto'],
    );
    assert.equal(s.cpuTdpWatts, undefined);
  });

  it('environment variables override defaults; flags override both', () => {
    const env = {
      ECGFLOW_PUE: '1.1',
      ECGFLOW_CARBON_INTENSITY: '56',
      ECGFLOW_CPU_TDP_WATTS: '65',
      ECGFLOW_ENERGY_INTERVAL_SECONDS: '2',
      ECGFLOW_ENERGY_METHOD: 'estimated',
    };
    const fromEnv = resolveEnergySettings({}, env);
    assert.deepEqual(
      [
        fromEnv.pue,
        fromEnv.carbonIntensityGPerKwh,
        fromEnv.cpuTdpWatts,
        fromEnv.sampleIntervalSeconds,
        fromEnv.method,
      ],
      [1.1, 56, 65, 2, 'estimated'],
    );
    const fromFlags = resolveEnergySettings({ pue: 1.0, carbonIntensity: 475, energyMethod: 'auto' }, env);
    assert.deepEqual([fromFlags.pue, fromFlags.carbonIntensityGPerKwh, fromFlags.method], [1.0, 475, 'auto']);
  });

  it('bad values fail with the setting named', () => {
    assert.throws(
      () => resolveEnergySettings({}, { ECGFLOW_PUE: 'abc' }),
      /ECGFLOW_PUE="abc" is not a number/,
    );
    assert.throws(() => resolveEnergySettings({ pue: 0.5 }, {}), /pue must be at least 1/);
    assert.throws(() => resolveEnergySettings({ energyIntervalSeconds: 60 }, {}), /1-10 s/);
    assert.throws(() => resolveEnergySettings({}, { ECGFLOW_ENERGY_METHOD: 'guess' }), /auto or estimated/);
  });
});
