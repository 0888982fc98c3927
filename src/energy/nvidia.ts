/**
 * NVIDIA GPUs through `nvidia-smi`, the route that needs no native binding. Preferred: NVML's cumulative
 * energy counter (`total_energy_consumption`, millijoules since the driver loaded, Volta and newer), which
 * newer nvidia-smi releases expose as a query field; power readings alone are sampled only part of the
 * time on A100/H100, so integrating them under-counts bursts. Older nvidia-smi releases reject the field;
 * then `power.draw` is read every interval and integrated (trapezoids), reported as `measured-nvml-power`.
 * Every visible GPU is counted, as Carbontracker does.
 */
import { execFile } from 'node:child_process';
import type { EnergySource } from './source';

export interface GpuReading {
  index: number;
  name: string;
  /** Cumulative energy in joules, when the counter is available. */
  energyJ?: number;
  /** Instantaneous board power in watts, when available. */
  powerW?: number;
}

export type RunCommand = (file: string, args: readonly string[]) => Promise<string>;

const ENERGY_FIELDS = 'index,name,total_energy_consumption,power.draw';
const POWER_FIELDS = 'index,name,power.draw';

const runFile: RunCommand = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 5000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });

function numberOrUndefined(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const v = field.trim();
  // "[N/A]", "[Not Supported]", "[Unknown Error]" mean no value.
  if (v === '' || v.startsWith('[')) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parse `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` output for the two field lists
 * above. Energy comes in millijoules, power in watts.
 */
export function parseNvidiaSmi(output: string, withEnergy: boolean): GpuReading[] {
  const readings: GpuReading[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    const cells = line.split(',').map((c) => c.trim());
    const index = Number(cells[0]);
    if (!Number.isInteger(index)) throw new Error(`unexpected nvidia-smi line: "${line}"`);
    if (withEnergy) {
      const mj = numberOrUndefined(cells[2]);
      readings.push({
        index,
        name: cells[1],
        energyJ: mj === undefined ? undefined : mj / 1000,
        powerW: numberOrUndefined(cells[3]),
      });
    } else {
      readings.push({ index, name: cells[1], powerW: numberOrUndefined(cells[2]) });
    }
  }
  return readings;
}

/** Energy since the last sample from two readings of the same GPUs. */
export function gpuIntervalJoules(
  previous: readonly GpuReading[],
  current: readonly GpuReading[],
  seconds: number,
  useCounter: boolean,
): number {
  let joules = 0;
  for (const now of current) {
    const before = previous.find((p) => p.index === now.index);
    if (before === undefined) continue;
    if (useCounter && before.energyJ !== undefined && now.energyJ !== undefined) {
      // The counter resets only when the driver reloads; a drop means that, and the interval counts 0.
      joules += Math.max(0, now.energyJ - before.energyJ);
    } else if (before.powerW !== undefined && now.powerW !== undefined) {
      joules += ((before.powerW + now.powerW) / 2) * seconds;
    }
  }
  return joules;
}

export class NvidiaSmiSource implements EnergySource {
  readonly device = 'gpu' as const;
  readonly method: 'measured-nvml' | 'measured-nvml-power';
  readonly description: string;
  private previous: { readings: GpuReading[]; atMs: number } | undefined;

  constructor(
    private readonly nvidiaSmi: string,
    private readonly useCounter: boolean,
    gpus: readonly GpuReading[],
    private readonly run: RunCommand = runFile,
  ) {
    this.method = useCounter ? 'measured-nvml' : 'measured-nvml-power';
    this.description = `nvidia-smi ${useCounter ? 'energy counter' : 'power.draw integrated'}: ${gpus
      .map((g) => `GPU ${g.index} ${g.name}`)
      .join(', ')}`;
  }

  private async read(): Promise<GpuReading[]> {
    const fields = this.useCounter ? ENERGY_FIELDS : POWER_FIELDS;
    const out = await this.run(this.nvidiaSmi, [`--query-gpu=${fields}`, '--format=csv,noheader,nounits']);
    return parseNvidiaSmi(out, this.useCounter);
  }

  async sample(nowMs: number): Promise<number> {
    const readings = await this.read();
    const previous = this.previous;
    this.previous = { readings, atMs: nowMs };
    if (previous === undefined) return 0;
    return gpuIntervalJoules(previous.readings, readings, (nowMs - previous.atMs) / 1000, this.useCounter);
  }
}

export interface NvidiaDiscovery {
  source?: NvidiaSmiSource;
  unavailable?: string;
}

/**
 * Probe `nvidia-smi`: the energy-counter query first, the power query if that field is rejected or the
 * counter reads N/A on any GPU. No executable, no GPU, or `none`: unavailable, with the reason.
 */
export async function discoverNvidia(nvidiaSmi: string, run: RunCommand = runFile): Promise<NvidiaDiscovery> {
  if (nvidiaSmi === 'none') return { unavailable: 'GPU measurement disabled' };
  try {
    const out = await run(nvidiaSmi, [`--query-gpu=${ENERGY_FIELDS}`, '--format=csv,noheader,nounits']);
    const gpus = parseNvidiaSmi(out, true);
    if (gpus.length > 0 && gpus.every((g) => g.energyJ !== undefined))
      return { source: new NvidiaSmiSource(nvidiaSmi, true, gpus, run) };
  } catch {
    // an nvidia-smi without the field, or none at all: try the power query
  }
  try {
    const out = await run(nvidiaSmi, [`--query-gpu=${POWER_FIELDS}`, '--format=csv,noheader,nounits']);
    const gpus = parseNvidiaSmi(out, false);
    if (gpus.length === 0) return { unavailable: 'nvidia-smi lists no GPU' };
    if (gpus.some((g) => g.powerW === undefined))
      return { unavailable: 'nvidia-smi reports no power reading for some GPU' };
    return { source: new NvidiaSmiSource(nvidiaSmi, false, gpus, run) };
  } catch (err) {
    const message = (err as Error).message;
    return {
      unavailable: /ENOENT/.test(message) ? 'no nvidia-smi' : `nvidia-smi failed: ${message.split('\n')[0]}`,
    };
  }
}
