/**
 * What the tracker reads: energy sources, one per device, each turning its own counter or model into
 * joules per sampling interval.
 */

/** Device an energy figure belongs to. */
export type EnergyDevice = 'cpu' | 'dram' | 'gpu';

/**
 * How a device's energy is obtained. `measured-*` read hardware counters (RAPL, the NVML energy counter)
 * or integrate hardware power readings (`measured-nvml-power`); `estimated-*` are models, labelled as such
 * everywhere they are reported.
 */
export type EnergyMethod =
  'measured-rapl' | 'measured-nvml' | 'measured-nvml-power' | 'estimated-cpu-load' | 'estimated-memory';

export interface EnergySource {
  readonly device: EnergyDevice;
  readonly method: EnergyMethod;
  /** One line for the start-up printout, e.g. the RAPL domains or the TDP the estimate uses. */
  readonly description: string;
  /**
   * Device energy in joules since the previous call, at time `nowMs` (ms, the tracker's clock). The first
   * call primes the counter and returns 0.
   */
  sample(nowMs: number): Promise<number>;
}

export function isEstimated(method: EnergyMethod): boolean {
  return method.startsWith('estimated-');
}
