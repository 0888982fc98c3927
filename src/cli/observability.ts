/**
 * Observability for long-running commands, set up the same way everywhere: the metrics registry and its
 * `/metrics` endpoint (`--metrics-port`, `--no-metrics`), the energy tracker (`--pue`,
 * `--carbon-intensity`, ... `--no-energy`) and, on Kafka, the consumer-lag monitor. Flags win over
 * environment variables, which win over defaults; the effective energy settings are printed at start.
 *
 * @example
 *   const obs = await Observability.start(flags);
 *   obs.watchConsumerLag(brokers, [{ groupId, topics: [topics.samples] }]);
 *   try {
 *     await obs.attribute('replay', () => runReplay(config, sink, obs.metrics));
 *     const energy = await obs.stop(); // final lag poll and energy sample
 *   } finally {
 *     await obs.close(); // lingers if asked, then closes /metrics
 *   }
 */
import { Option, type Command } from 'commander';
import { ConfigError, EcgflowError } from '../errors';
import {
  energySettings,
  EnergyTracker,
  type EnergyComponent,
  type EnergyMethodPreference,
  type EnergyReport,
  type EnergySettings,
} from '../energy';
import { ConsumerLagMonitor, kafkaLagAdmin, type LagTarget } from '../metrics/consumerLag';
import { Metrics } from '../metrics/registry';
import { formatNumber, log } from '../util/output';
import { parsePositiveNumber, startMetricsServer } from './options';
import type { MetricsServer } from '../metrics/registry';

export interface ObservabilityFlags {
  metrics?: boolean;
  metricsPort?: number;
  metricsLingerSeconds?: number;
  energy?: boolean;
  pue?: number;
  carbonIntensity?: number;
  cpuTdpWatts?: number;
  energyIntervalSeconds?: number;
  energyMethod?: EnergyMethodPreference;
}

/** Energy flags and `--metrics-linger-seconds`; use beside `addMetricsOptions`. */
export function addObservabilityOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--metrics-linger-seconds <s>',
        'keep serving /metrics this long after the work is done, so a last scrape sees the final figures',
      )
        .argParser(parseNonNegative('metrics-linger-seconds'))
        .default(0),
    )
    .option(
      '--pue <ratio>',
      `power usage effectiveness (env ECGFLOW_PUE; default 1.58)`,
      parsePositiveNumber('pue'),
    )
    .option(
      '--carbon-intensity <g/kWh>',
      'grams CO2-equivalent per kWh (env ECGFLOW_CARBON_INTENSITY; default 481)',
      parsePositiveNumber('carbon-intensity'),
    )
    .option(
      '--cpu-tdp-watts <W>',
      'CPU TDP for the energy estimate (env ECGFLOW_CPU_TDP_WATTS; default 10 W per logical CPU)',
      parsePositiveNumber('cpu-tdp-watts'),
    )
    .option(
      '--energy-interval-seconds <s>',
      'energy sampling period, 1-10 s (env ECGFLOW_ENERGY_INTERVAL_SECONDS; default 5)',
      parsePositiveNumber('energy-interval-seconds'),
    )
    .addOption(
      new Option(
        '--energy-method <method>',
        'auto: measure where possible; estimated: always estimate',
      ).choices(['auto', 'estimated']),
    )
    .option('--no-energy', 'do not track energy and CO2');
}

function parseNonNegative(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new ConfigError(`"${value}" is not a number >= 0`, name);
    return n;
  };
}

function envNumber(env: NodeJS.ProcessEnv, name: string, field: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(`${name}="${raw}" is not a number`, field);
  return n;
}

/** Energy settings from flags, then environment variables, then defaults. */
export function resolveEnergySettings(
  flags: ObservabilityFlags,
  env: NodeJS.ProcessEnv = process.env,
): EnergySettings {
  const method = flags.energyMethod ?? env.ECGFLOW_ENERGY_METHOD;
  return energySettings({
    pue: flags.pue ?? envNumber(env, 'ECGFLOW_PUE', 'pue'),
    carbonIntensityGPerKwh:
      flags.carbonIntensity ?? envNumber(env, 'ECGFLOW_CARBON_INTENSITY', 'carbon-intensity'),
    cpuTdpWatts: flags.cpuTdpWatts ?? envNumber(env, 'ECGFLOW_CPU_TDP_WATTS', 'cpu-tdp-watts'),
    sampleIntervalSeconds:
      flags.energyIntervalSeconds ??
      envNumber(env, 'ECGFLOW_ENERGY_INTERVAL_SECONDS', 'energy-interval-seconds'),
    method: method === undefined || method === '' ? undefined : (method as EnergyMethodPreference),
  });
}

/** One line for logs: `0.000123 kWh, 0.0593 g CO2eq (estimated-cpu-load+estimated-memory, ESTIMATED)`. */
export function formatEnergy(r: EnergyReport): string {
  return `${r.energyKwh.toPrecision(3)} kWh, ${r.co2eqGrams.toPrecision(3)} g CO2eq over ${formatNumber(
    Number(r.seconds.toFixed(1)),
  )} s (${r.method}${r.estimated ? ', ESTIMATED' : ''}; PUE ${r.pue}, ${r.carbonIntensityGPerKwh} g/kWh)`;
}

/** The energy fields that command summaries (`--json`) carry. */
export function energySummary(r: EnergyReport): {
  energyKwh: number;
  co2eqGrams: number;
  energyMethod: string;
  energyEstimated: boolean;
  pue: number;
  carbonIntensityGPerKwh: number;
} {
  return {
    energyKwh: r.energyKwh,
    co2eqGrams: r.co2eqGrams,
    energyMethod: r.method,
    energyEstimated: r.estimated,
    pue: r.pue,
    carbonIntensityGPerKwh: r.carbonIntensityGPerKwh,
  };
}

export class Observability {
  private lag: ConsumerLagMonitor | undefined;
  private stopped: Promise<EnergyReport | undefined> | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    readonly metrics: Metrics,
    readonly energy: EnergyTracker | undefined,
    private readonly server: MetricsServer | undefined,
    private readonly lingerSeconds: number,
  ) {}

  /** Registry (no-op with `--no-metrics`), endpoint, and energy tracker (none with `--no-energy`). */
  static async start(
    flags: ObservabilityFlags,
    options: { defaultMetrics?: boolean } = {},
  ): Promise<Observability> {
    const metrics = new Metrics({ enabled: flags.metrics !== false, defaultMetrics: options.defaultMetrics });
    let energy: EnergyTracker | undefined;
    if (flags.energy !== false) {
      energy = await EnergyTracker.detect(resolveEnergySettings(flags), { metrics });
      for (const line of energy.describe()) log(line);
      await energy.start();
    }
    const server = await startMetricsServer(metrics, flags);
    return new Observability(metrics, energy, server, flags.metricsLingerSeconds ?? 0);
  }

  /** The port `/metrics` is served on, if it is. */
  get metricsPort(): number | undefined {
    return this.server?.port;
  }

  /** Poll the consumer lag of these groups on Kafka (a no-op with metrics off). */
  watchConsumerLag(brokers: readonly string[], targets: readonly LagTarget[], intervalMs = 5000): void {
    if (!this.metrics.enabled || this.lag !== undefined) return;
    this.lag = new ConsumerLagMonitor(kafkaLagAdmin(brokers), targets, this.metrics, { intervalMs, log });
    this.lag.start();
  }

  /** Run `fn` with its energy attributed to `component` (just runs it without a tracker). */
  attribute<T>(component: EnergyComponent, fn: () => Promise<T>): Promise<T> {
    return this.energy === undefined ? fn() : this.energy.attribute(component, fn);
  }

  /** Count a failure on `ecg_errors_total{stage,code}` (the error's code, or UNEXPECTED). */
  recordError(stage: string, err: unknown): void {
    this.metrics.errors.inc({ stage, code: err instanceof EcgflowError ? err.code : 'UNEXPECTED' });
  }

  /**
   * Stop measuring: a final consumer-lag poll and energy sample. Resolves with the process's energy
   * report (undefined with `--no-energy`). Idempotent; `/metrics` stays up until {@link close}.
   */
  stop(): Promise<EnergyReport | undefined> {
    this.stopped ??= (async () => {
      await this.lag?.stop();
      return this.energy?.stop();
    })();
    return this.stopped;
  }

  /** {@link stop}, then keep serving `/metrics` for `--metrics-linger-seconds`, then close it. Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.stop();
      if (this.server !== undefined && this.lingerSeconds > 0) {
        log(`metrics: serving the final figures for ${this.lingerSeconds} s more`);
        await new Promise((resolve) => setTimeout(resolve, this.lingerSeconds * 1000));
      }
      await this.server?.close();
    })();
    return this.closed;
  }
}
