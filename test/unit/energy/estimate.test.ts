/**
 * The estimate: CodeCarbon's load model, the process share, /proc/stat parsing, and the sources over a
 * fake /proc/stat and a fake CPU-time counter.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  CpuLoadEstimateSource,
  MemoryEstimateSource,
  cpuLoadPowerWatts,
  estimateCpuJoules,
  parseProcStat,
} from '../../../src/energy/estimate';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

describe('CPU load estimate', () => {
  it('P = TDP * (0.1 + 0.9 * load^3)', () => {
    close(cpuLoadPowerWatts(20, 0), 2);
    close(cpuLoadPowerWatts(20, 1), 20);
    close(cpuLoadPowerWatts(20, 0.5), 20 * (0.1 + 0.9 * 0.125));
    close(cpuLoadPowerWatts(20, 1.7), 20); // clamped
  });

  it('charges the process its share of the machine busy time', () => {
    // 10 s on 2 CPUs, machine 50% busy (10 CPU-seconds), of which the process used 5.
    const r = estimateCpuJoules(20, { seconds: 10, cpus: 2, processCpuSeconds: 5, machineLoad: 0.5 });
    close(r.load, 0.5);
    close(r.share, 0.5);
    close(r.joules, cpuLoadPowerWatts(20, 0.5) * 10 * 0.5);
    // The process alone on the machine pays all of it; an idle process nothing.
    close(estimateCpuJoules(20, { seconds: 10, cpus: 2, processCpuSeconds: 20, machineLoad: 1 }).joules, 200);
    close(estimateCpuJoules(20, { seconds: 10, cpus: 2, processCpuSeconds: 0, machineLoad: 0.3 }).joules, 0);
  });

  it('without /proc/stat the process is the whole load', () => {
    const r = estimateCpuJoules(20, { seconds: 4, cpus: 2, processCpuSeconds: 4, machineLoad: undefined });
    close(r.load, 0.5);
    close(r.share, 1);
    close(r.joules, cpuLoadPowerWatts(20, 0.5) * 4);
  });

  it('parses the all-CPU line of /proc/stat (iowait counts as idle)', () => {
    const text = 'cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1\n';
    assert.deepEqual(parseProcStat(text), { busy: 160, total: 1000 });
    assert.throws(() => parseProcStat('intr 1\n'), /no "cpu " line/);
  });

  it('the source turns /proc/stat and CPU-time deltas into joules', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecg-proc-'));
    try {
      const stat = path.join(dir, 'stat');
      fs.writeFileSync(stat, 'cpu  1000 0 0 9000 0 0 0 0 0 0\n');
      let cpuMicros = 0;
      const src = new CpuLoadEstimateSource({
        tdpWatts: 20,
        cpus: 2,
        procStatPath: stat,
        cpuUsage: () => ({ user: cpuMicros, system: 0 }),
      });
      assert.equal(await src.sample(0), 0);
      // 10 s later: 2000 jiffies (= 20 CPU-s on 2 CPUs), 1500 busy (load 0.75); the process used 6 CPU-s
      // of the 15 busy ones (share 0.4).
      fs.writeFileSync(stat, 'cpu  2500 0 0 9500 0 0 0 0 0 0\n');
      cpuMicros = 6e6;
      close(await src.sample(10_000), cpuLoadPowerWatts(20, 0.75) * 10 * 0.4);
      close(src.last?.load ?? NaN, 0.75);
      close(src.last?.share ?? NaN, 0.4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('memory: watts per GiB of the mean resident set', async () => {
    let rss = 2 * 2 ** 30;
    const src = new MemoryEstimateSource(0.375, () => rss);
    assert.equal(await src.sample(0), 0);
    rss = 4 * 2 ** 30;
    close(await src.sample(8000), 0.375 * 3 * 8);
  });
});
