/**
 * NVIDIA through nvidia-smi, with its output faked: the energy counter when nvidia-smi has it, power
 * integration when it does not, and "unavailable" without nvidia-smi.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  discoverNvidia,
  gpuIntervalJoules,
  parseNvidiaSmi,
  type RunCommand,
} from '../../../src/energy/nvidia';

describe('nvidia-smi', () => {
  it('parses the energy query (mJ) and the power query (W), N/A included', () => {
    assert.deepEqual(
      parseNvidiaSmi(
        '0, NVIDIA H100 80GB HBM3, 123456789, 71.52\n1, NVIDIA H100 80GB HBM3, [N/A], 70.1\n',
        true,
      ),
      [
        { index: 0, name: 'NVIDIA H100 80GB HBM3', energyJ: 123456.789, powerW: 71.52 },
        { index: 1, name: 'NVIDIA H100 80GB HBM3', energyJ: undefined, powerW: 70.1 },
      ],
    );
    assert.deepEqual(parseNvidiaSmi('0, Tesla T4, [Not Supported]\n', false), [
      { index: 0, name: 'Tesla T4', powerW: undefined },
    ]);
  });

  it('counter deltas, or trapezoids of power over the interval', () => {
    const before = [{ index: 0, name: 'g', energyJ: 1000, powerW: 100 }];
    const after = [{ index: 0, name: 'g', energyJ: 1450, powerW: 200 }];
    assert.equal(gpuIntervalJoules(before, after, 3, true), 450);
    assert.equal(gpuIntervalJoules(before, after, 3, false), 450);
    // A driver reload resets the counter: that interval counts nothing rather than a negative figure.
    assert.equal(gpuIntervalJoules(after, before, 3, true), 0);
  });

  it('prefers the energy counter, falls back to power, reports a missing nvidia-smi', async () => {
    const withCounter: RunCommand = async (_f, args) =>
      args[0].includes('total_energy_consumption') ? '0, A100, 5000, 60\n' : '0, A100, 60\n';
    assert.equal((await discoverNvidia('nvidia-smi', withCounter)).source?.method, 'measured-nvml');

    const oldSmi: RunCommand = async (_f, args) => {
      if (args[0].includes('total_energy_consumption'))
        throw new Error('Field "total_energy_consumption" is not a valid field to query.');
      return '0, Tesla V100, 45.3\n';
    };
    const fallback = await discoverNvidia('nvidia-smi', oldSmi);
    assert.equal(fallback.source?.method, 'measured-nvml-power');
    assert.match(fallback.source?.description ?? '', /GPU 0 Tesla V100/);

    const none: RunCommand = async () => {
      throw new Error('spawn nvidia-smi ENOENT');
    };
    assert.deepEqual(await discoverNvidia('nvidia-smi', none), { unavailable: 'no nvidia-smi' });
    assert.deepEqual(await discoverNvidia('none', none), { unavailable: 'GPU measurement disabled' });
  });

  it('a source samples the counter each interval', async () => {
    let mj = 1_000_000;
    const run: RunCommand = async () => `0, A100, ${mj}, 60\n`;
    const { source } = await discoverNvidia('nvidia-smi', run);
    assert.ok(source);
    assert.equal(await source.sample(0), 0);
    mj += 250_000;
    assert.equal(await source.sample(5000), 250);
  });
});
