/**
 * Intel RAPL through the Linux powercap tree: `<root>/intel-rapl:N/energy_uj` is a package's cumulative
 * energy in microjoules, `intel-rapl:N:M` its subdomains (core, uncore, dram). Package and dram domains are
 * counted; psys (the whole platform, overlapping both) and core/uncore (inside the package) are not, so
 * nothing is counted twice. Counters wrap at `max_energy_range_uj`. Since Linux 5.10 `energy_uj` is
 * readable by root only (CVE-2020-8694); an unreadable counter makes the tracker fall back to an estimate.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EnergyDevice, EnergySource } from './source';

export interface RaplDomain {
  /** Directory name, e.g. `intel-rapl:0` or `intel-rapl:0:2`. */
  id: string;
  /** The domain's `name` file: `package-0`, `dram`, ... */
  name: string;
  device: Extract<EnergyDevice, 'cpu' | 'dram'>;
  energyPath: string;
  maxEnergyRangeUj: number;
}

export interface RaplDiscovery {
  domains: RaplDomain[];
  /** Why RAPL cannot be used, when `domains` is empty. */
  unavailable?: string;
}

const DOMAIN_DIR = /^intel-rapl:\d+(:\d+)?$/;

/**
 * The package and dram domains under `root` whose counters can be read. Subdomains appear both as
 * top-level links and inside their package's directory; they are identified by directory name, once.
 */
export function discoverRapl(root: string): RaplDiscovery {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return { domains: [], unavailable: `no powercap tree at ${root}` };
  }
  const dirs = new Map<string, string>();
  const visit = (dir: string, names: string[]) => {
    for (const e of names) {
      if (!DOMAIN_DIR.test(e) || dirs.has(e)) continue;
      const full = path.join(dir, e);
      dirs.set(e, full);
      try {
        visit(full, fs.readdirSync(full));
      } catch {
        // not a directory
      }
    }
  };
  visit(root, entries);
  if (dirs.size === 0) return { domains: [], unavailable: `no intel-rapl domains under ${root}` };

  const domains: RaplDomain[] = [];
  const problems: string[] = [];
  for (const [id, dir] of [...dirs].sort(([a], [b]) => a.localeCompare(b))) {
    let name: string;
    try {
      name = fs.readFileSync(path.join(dir, 'name'), 'utf8').trim();
    } catch {
      continue;
    }
    const device = name.startsWith('package') ? 'cpu' : name === 'dram' ? 'dram' : undefined;
    if (device === undefined) continue; // psys, core, uncore
    const energyPath = path.join(dir, 'energy_uj');
    try {
      readMicrojoules(energyPath);
      const maxEnergyRangeUj = readMicrojoules(path.join(dir, 'max_energy_range_uj'));
      domains.push({ id, name, device, energyPath, maxEnergyRangeUj });
    } catch (err) {
      problems.push(`${energyPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (domains.length === 0)
    return {
      domains,
      unavailable:
        problems.length > 0
          ? `RAPL counters not readable (${problems.join('; ')}; root only since Linux 5.10)`
          : `no package or dram domain under ${root}`,
    };
  return { domains };
}

function readMicrojoules(file: string): number {
  const text = fs.readFileSync(file, 'utf8').trim();
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new Error(`not a counter value: "${text}"`);
  return value;
}

/**
 * Microjoules between two readings of a counter that wraps to 0 after `maxEnergyRangeUj`. A reading
 * below the previous one means exactly one wrap: sampling every 1-10 s is far inside the shortest wrap
 * period (about 20 min for a 200 W package with a 2^38 uJ range).
 */
export function counterDeltaUj(previousUj: number, currentUj: number, maxEnergyRangeUj: number): number {
  if (currentUj >= previousUj) return currentUj - previousUj;
  return maxEnergyRangeUj - previousUj + currentUj;
}

/** One device's RAPL domains (all packages, or all dram domains), summed. */
export class RaplSource implements EnergySource {
  readonly method = 'measured-rapl' as const;
  readonly description: string;
  private previous: number[] | undefined;

  constructor(
    readonly device: 'cpu' | 'dram',
    private readonly domains: readonly RaplDomain[],
  ) {
    this.description = `RAPL ${domains.map((d) => `${d.id} (${d.name})`).join(', ')}`;
  }

  async sample(_nowMs?: number): Promise<number> {
    const now = this.domains.map((d) => readMicrojoules(d.energyPath));
    const previous = this.previous;
    this.previous = now;
    if (previous === undefined) return 0;
    let uj = 0;
    this.domains.forEach((d, i) => (uj += counterDeltaUj(previous[i], now[i], d.maxEnergyRangeUj)));
    return uj / 1e6;
  }
}

/** RAPL sources for the readable domains under `root`, grouped by device. */
export function raplSources(discovery: RaplDiscovery): RaplSource[] {
  const out: RaplSource[] = [];
  for (const device of ['cpu', 'dram'] as const) {
    const domains = discovery.domains.filter((d) => d.device === device);
    if (domains.length > 0) out.push(new RaplSource(device, domains));
  }
  return out;
}
