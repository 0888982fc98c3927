/**
 * Settings of the energy and CO2 accounting, with the seed paper's Carbontracker defaults. Plain data:
 * the CLI maps flags and environment variables onto it (src/cli/energy.ts).
 */
import * as os from 'node:os';
import { ConfigError } from '../errors';

/** `auto`: measure where counters are readable (RAPL, NVIDIA), estimate otherwise; `estimated`: always estimate. */
export type EnergyMethodPreference = 'auto' | 'estimated';

export interface EnergySettings {
  /** Power usage effectiveness: facility energy / IT energy. Carbontracker's default 1.58. */
  pue: number;
  /** Grams CO2-equivalent per kWh. Carbontracker's world average 481. */
  carbonIntensityGPerKwh: number;
  /** Background sampling period, 1-10 s. */
  sampleIntervalSeconds: number;
  method: EnergyMethodPreference;
  /**
   * CPU thermal design power the estimate scales, for the CPUs this process can see. Undefined: 10 W per
   * logical CPU (a server package's TDP divided by its cores is 6-10 W).
   */
  cpuTdpWatts?: number;
  /** Memory power in the estimate, per GiB of the process's resident set (CodeCarbon: 3 W per 8 GB). */
  memoryWattsPerGiB: number;
  /** Where the powercap (RAPL) tree is; a parameter so tests can use a fake one. */
  raplRoot: string;
  /** The nvidia-smi executable; `none` disables GPU measurement. */
  nvidiaSmi: string;
  /** Linux /proc/stat, for the machine's CPU load in the estimate. */
  procStatPath: string;
}

export const DEFAULT_PUE = 1.58;
export const DEFAULT_CARBON_INTENSITY_G_PER_KWH = 481;
export const DEFAULT_TDP_WATTS_PER_CPU = 10;

export const DEFAULT_ENERGY_SETTINGS: Readonly<EnergySettings> = {
  pue: DEFAULT_PUE,
  carbonIntensityGPerKwh: DEFAULT_CARBON_INTENSITY_G_PER_KWH,
  sampleIntervalSeconds: 5,
  method: 'auto',
  cpuTdpWatts: undefined,
  memoryWattsPerGiB: 3 / 8,
  raplRoot: '/sys/class/powercap',
  nvidiaSmi: 'nvidia-smi',
  procStatPath: '/proc/stat',
};

/** Logical CPUs this process may run on. */
export function logicalCpus(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** The TDP the estimate uses: the setting, or the per-CPU default times the visible CPUs. */
export function effectiveTdpWatts(
  settings: Pick<EnergySettings, 'cpuTdpWatts'>,
  cpus = logicalCpus(),
): number {
  return settings.cpuTdpWatts ?? DEFAULT_TDP_WATTS_PER_CPU * cpus;
}

/** Defaults overlaid with `partial`, checked; a bad value is a ConfigError naming the setting. */
export function energySettings(partial: Partial<EnergySettings> = {}): EnergySettings {
  const s: EnergySettings = { ...DEFAULT_ENERGY_SETTINGS };
  for (const [k, v] of Object.entries(partial))
    if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  const positive = (value: number | undefined, field: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0))
      throw new ConfigError(`${field} must be a positive number, got ${value}`, field);
  };
  positive(s.pue, 'pue');
  if (s.pue < 1)
    throw new ConfigError(`pue must be at least 1 (facility energy >= IT energy), got ${s.pue}`, 'pue');
  positive(s.carbonIntensityGPerKwh, 'carbon-intensity');
  positive(s.cpuTdpWatts, 'cpu-tdp-watts');
  positive(s.memoryWattsPerGiB, 'memory-watts-per-gib');
  if (!(s.sampleIntervalSeconds >= 1 && s.sampleIntervalSeconds <= 10))
    throw new ConfigError(
      `energy sampling interval must be 1-10 s, got ${s.sampleIntervalSeconds}`,
      'energy-interval-seconds',
    );
  if (s.method !== 'auto' && s.method !== 'estimated')
    throw new ConfigError(
      `energy method must be auto or estimated, got ${String(s.method)}`,
      'energy-method',
    );
  return s;
}

/** kWh from joules. */
export function joulesToKwh(joules: number): number {
  return joules / 3.6e6;
}

/** Facility energy in joules from device joules: device energy times PUE. */
export function facilityJoules(deviceJoules: number, pue: number): number {
  return deviceJoules * pue;
}

/** Grams CO2-equivalent of facility energy in joules at an intensity in g/kWh. */
export function co2eqGrams(facilityJ: number, carbonIntensityGPerKwh: number): number {
  return joulesToKwh(facilityJ) * carbonIntensityGPerKwh;
}
