/**
 * The estimate used where no counter is readable (VMs, containers, the project's CI machines): CodeCarbon's
 * CPU load model, P = TDP * (0.1 + 0.9 * load^3), with `load` the machine's CPU utilisation over the
 * interval, scaled by this process's share of the CPU time the machine was busy; memory at a fixed power
 * per GiB of the process's resident set (CodeCarbon: 3 W per 8 GB). Both are labelled `estimated-*`
 * wherever they are reported. The load model rather than Carbontracker's flat 50% of TDP, so that a
 * process that computes less is charged less, which is what the adaptive-vs-vanilla comparison is about.
 */
import * as fs from 'node:fs';
import type { EnergySource } from './source';

/** Package power in watts at a CPU utilisation `load` in [0, 1]. */
export function cpuLoadPowerWatts(tdpWatts: number, load: number): number {
  const l = Math.min(1, Math.max(0, load));
  return tdpWatts * (0.1 + 0.9 * l ** 3);
}

export interface CpuInterval {
  seconds: number;
  /** Logical CPUs the machine's load is measured over. */
  cpus: number;
  /** CPU seconds this process used in the interval (user + system). */
  processCpuSeconds: number;
  /** Machine utilisation in [0, 1], or undefined where /proc/stat cannot be read. */
  machineLoad: number | undefined;
}

/**
 * Joules charged to the process for one interval. The process's share is its CPU time over the machine's
 * busy CPU time; without a machine figure the process is taken to be the machine's only load.
 */
export function estimateCpuJoules(
  tdpWatts: number,
  iv: CpuInterval,
): { joules: number; load: number; share: number } {
  if (iv.seconds <= 0) return { joules: 0, load: 0, share: 0 };
  const capacity = iv.seconds * iv.cpus;
  const ownLoad = Math.min(1, iv.processCpuSeconds / capacity);
  const load = iv.machineLoad === undefined ? ownLoad : Math.min(1, Math.max(0, iv.machineLoad));
  const busy = load * capacity;
  // Rounding in /proc/stat can put the process's time slightly above the machine's busy time.
  const share = busy > 0 ? Math.min(1, iv.processCpuSeconds / busy) : iv.processCpuSeconds > 0 ? 1 : 0;
  return { joules: cpuLoadPowerWatts(tdpWatts, load) * iv.seconds * share, load, share };
}

/** Busy and total jiffies from the first (all-CPU) line of /proc/stat. */
export function parseProcStat(text: string): { busy: number; total: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) throw new Error('no "cpu " line in /proc/stat');
  // user nice system idle iowait irq softirq steal [guest guest_nice: already inside user and nice]
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x)))
    throw new Error(`unreadable /proc/stat line: ${line}`);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: total - idle, total };
}

export interface CpuEstimateOptions {
  tdpWatts: number;
  cpus: number;
  procStatPath: string;
  /** CPU time of this process in microseconds, like `process.cpuUsage()`. */
  cpuUsage?: () => { user: number; system: number };
}

export class CpuLoadEstimateSource implements EnergySource {
  readonly device = 'cpu' as const;
  readonly method = 'estimated-cpu-load' as const;
  readonly description: string;
  private previous: { atMs: number; cpuMicros: number; stat?: { busy: number; total: number } } | undefined;
  private readonly cpuUsage: () => { user: number; system: number };
  /** The last interval's figures, for logs and tests. */
  last: { load: number; share: number; watts: number } | undefined;

  constructor(private readonly options: CpuEstimateOptions) {
    this.cpuUsage = options.cpuUsage ?? (() => process.cpuUsage());
    this.description = `estimate, CPU load model P = TDP * (0.1 + 0.9 * load^3) * process share, TDP ${options.tdpWatts} W over ${options.cpus} CPUs`;
  }

  private readStat(): { busy: number; total: number } | undefined {
    try {
      return parseProcStat(fs.readFileSync(this.options.procStatPath, 'utf8'));
    } catch {
      return undefined;
    }
  }

  async sample(nowMs: number): Promise<number> {
    const u = this.cpuUsage();
    const current = { atMs: nowMs, cpuMicros: u.user + u.system, stat: this.readStat() };
    const previous = this.previous;
    this.previous = current;
    if (previous === undefined) return 0;
    const seconds = (nowMs - previous.atMs) / 1000;
    let machineLoad: number | undefined;
    if (previous.stat !== undefined && current.stat !== undefined) {
      const dTotal = current.stat.total - previous.stat.total;
      if (dTotal > 0) machineLoad = (current.stat.busy - previous.stat.busy) / dTotal;
    }
    const r = estimateCpuJoules(this.options.tdpWatts, {
      seconds,
      cpus: this.options.cpus,
      processCpuSeconds: (current.cpuMicros - previous.cpuMicros) / 1e6,
      machineLoad,
    });
    this.last = { load: r.load, share: r.share, watts: seconds > 0 ? r.joules / seconds : 0 };
    return r.joules;
  }
}

export class MemoryEstimateSource implements EnergySource {
  readonly device = 'dram' as const;
  readonly method = 'estimated-memory' as const;
  readonly description: string;
  private previous: { atMs: number; rssBytes: number } | undefined;

  constructor(
    private readonly wattsPerGiB: number,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
  ) {
    this.description = `estimate, ${wattsPerGiB} W per GiB of resident memory`;
  }

  async sample(nowMs: number): Promise<number> {
    const current = { atMs: nowMs, rssBytes: this.rss() };
    const previous = this.previous;
    this.previous = current;
    if (previous === undefined) return 0;
    const seconds = (nowMs - previous.atMs) / 1000;
    const meanGiB = (previous.rssBytes + current.rssBytes) / 2 / 2 ** 30;
    return Math.max(0, seconds) * meanGiB * this.wattsPerGiB;
  }
}
