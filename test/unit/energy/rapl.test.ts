/**
 * RAPL through a fake powercap tree: which domains count, counter deltas across a wrap-around, and the
 * fallback reason when counters cannot be read.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { counterDeltaUj, discoverRapl, raplSources } from '../../../src/energy/rapl';

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

interface FakeDomain {
  id: string;
  name: string;
  energyUj: number | 'unreadable';
  maxUj?: number;
}

/** A powercap tree laid out like the kernel's: every domain a top-level directory. */
function fakePowercap(domains: FakeDomain[]): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ecg-rapl-'));
  roots.push(root);
  for (const d of domains) {
    const dir = path.join(root, d.id);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'name'), `${d.name}\n`);
    fs.writeFileSync(path.join(dir, 'max_energy_range_uj'), `${d.maxUj ?? 262143328850}\n`);
    // A directory where the counter should be reads like a permission error would: not at all.
    if (d.energyUj === 'unreadable') fs.mkdirSync(path.join(dir, 'energy_uj'));
    else fs.writeFileSync(path.join(dir, 'energy_uj'), `${d.energyUj}\n`);
  }
  return root;
}

function setEnergy(root: string, id: string, uj: number): void {
  fs.writeFileSync(path.join(root, id, 'energy_uj'), `${uj}\n`);
}

describe('RAPL', () => {
  it('counts package and dram domains, not psys or the core/uncore subdomains', () => {
    const root = fakePowercap([
      { id: 'intel-rapl:0', name: 'package-0', energyUj: 1000 },
      { id: 'intel-rapl:0:0', name: 'core', energyUj: 500 },
      { id: 'intel-rapl:0:1', name: 'uncore', energyUj: 100 },
      { id: 'intel-rapl:0:2', name: 'dram', energyUj: 300 },
      { id: 'intel-rapl:1', name: 'package-1', energyUj: 2000 },
      { id: 'intel-rapl:2', name: 'psys', energyUj: 9000 },
    ]);
    const found = discoverRapl(root);
    assert.equal(found.unavailable, undefined);
    assert.deepEqual(
      found.domains.map((d) => [d.id, d.name, d.device]),
      [
        ['intel-rapl:0', 'package-0', 'cpu'],
        ['intel-rapl:0:2', 'dram', 'dram'],
        ['intel-rapl:1', 'package-1', 'cpu'],
      ],
    );
    assert.deepEqual(
      raplSources(found).map((s) => [s.device, s.method]),
      [
        ['cpu', 'measured-rapl'],
        ['dram', 'measured-rapl'],
      ],
    );
  });

  it('finds subdomains nested inside their package directory too', () => {
    const root = fakePowercap([{ id: 'intel-rapl:0', name: 'package-0', energyUj: 1 }]);
    const nested = path.join(root, 'intel-rapl:0', 'intel-rapl:0:2');
    fs.mkdirSync(nested);
    fs.writeFileSync(path.join(nested, 'name'), 'dram\n');
    fs.writeFileSync(path.join(nested, 'energy_uj'), '5\n');
    fs.writeFileSync(path.join(nested, 'max_energy_range_uj'), '65712999613\n');
    assert.deepEqual(
      discoverRapl(root).domains.map((d) => d.id),
      ['intel-rapl:0', 'intel-rapl:0:2'],
    );
  });

  it('takes deltas, across a wrap-around at max_energy_range_uj', () => {
    assert.equal(counterDeltaUj(1_000, 4_000, 10_000), 3_000);
    assert.equal(counterDeltaUj(9_000, 500, 10_000), 1_500);
    assert.equal(counterDeltaUj(7, 7, 10_000), 0);
  });

  it('a source sums its domains in joules, wrap-around included, the first sample priming', async () => {
    const max = 262143328850;
    const root = fakePowercap([
      { id: 'intel-rapl:0', name: 'package-0', energyUj: max - 2_000_000, maxUj: max },
      { id: 'intel-rapl:1', name: 'package-1', energyUj: 10_000_000, maxUj: max },
    ]);
    const [cpu] = raplSources(discoverRapl(root));
    assert.equal(await cpu.sample(0), 0);
    setEnergy(root, 'intel-rapl:0', 3_000_000); // wrapped: 2 J to the top, 3 J after
    setEnergy(root, 'intel-rapl:1', 14_500_000); // 4.5 J
    assert.equal(await cpu.sample(1000), 9.5);
    setEnergy(root, 'intel-rapl:0', 4_000_000);
    assert.equal(await cpu.sample(2000), 1 + 0);
  });

  it('unreadable counters or no tree: unavailable, with the reason', () => {
    const root = fakePowercap([{ id: 'intel-rapl:0', name: 'package-0', energyUj: 'unreadable' }]);
    const found = discoverRapl(root);
    assert.equal(found.domains.length, 0);
    assert.match(found.unavailable ?? '', /not readable.*energy_uj/);
    assert.match(discoverRapl(path.join(root, 'nope')).unavailable ?? '', /no powercap tree/);
  });
});
