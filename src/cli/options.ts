/**
 * Flags shared by several commands, declared once so that every command maps flags and environment
 * variables onto its configuration the same way.
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '../errors';
import { serveMetrics, type Metrics, type MetricsServer } from '../metrics/registry';
import { log } from '../util/output';
import { listRecords } from '../wfdb/record';
import { splitList } from '../util/list';

export const DEFAULT_METRICS_PORT = 9464;

export function addDataDirOption(cmd: Command): Command {
  return cmd.option('--data-dir <dir>', 'WFDB database directory (env ECGFLOW_DATA_DIR; default data/mitdb)');
}

/** `--brokers`; `withoutBrokers` says what the command uses when neither it nor KAFKA_BROKERS is given. */
export function addBrokersOption(cmd: Command, withoutBrokers = 'the embedded in-process bus'): Command {
  return cmd.option(
    '--brokers <host:port,...>',
    `Kafka bootstrap brokers (env KAFKA_BROKERS); default: ${withoutBrokers}`,
  );
}

/** What the commands that always measure a real broker use without one. */
export const OWN_BROKER = "the project's own local broker, started for the run";

export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'end standard output with one JSON summary line');
}

export function addMetricsOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--metrics-port <port>', 'serve Prometheus metrics at /metrics on this port')
        .default(DEFAULT_METRICS_PORT)
        .argParser(parsePort),
    )
    .option('--no-metrics', 'do not serve /metrics');
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`"${value}" is not a TCP port`, 'metrics-port');
  return port;
}

export function parsePositiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`"${value}" is not a positive number`, name);
    return n;
  };
}

/** A number in [0, 1]; the range the setting itself allows is checked where the setting is validated. */
export function parseFraction(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
      throw new ConfigError(`"${value}" is not a fraction in [0, 1]`, name);
    return n;
  };
}

/** `max` or a positive real-time factor. */
export function parseSpeed(value: string): number | 'max' {
  if (value === 'max') return 'max';
  return parsePositiveNumber('speed')(value);
}

/** `all` or a comma-separated list of record names; `all` reads the database's record list. */
export async function resolveRecords(spec: string, dataDir: string): Promise<string[]> {
  if (spec === 'all') {
    // An empty or mistyped data directory must not become a job over nothing that waits forever.
    const all = await listRecords(dataDir);
    if (all.length === 0)
      throw new ConfigError(
        `no WFDB records (*.hea) in ${dataDir}: set --data-dir or ECGFLOW_DATA_DIR to the database directory`,
        'data-dir',
      );
    return all;
  }
  const records = splitList(spec);
  if (records.length === 0) throw new ConfigError('no records given', 'records');
  return records;
}

/**
 * Start the metrics endpoint for a long-running command. A port already in use is reported and the
 * command carries on without it: losing the endpoint should not stop a replay or a training run.
 */
export async function startMetricsServer(
  metrics: Metrics,
  opts: { metrics?: boolean; metricsPort?: number },
): Promise<MetricsServer | undefined> {
  if (opts.metrics === false) return undefined;
  const port = opts.metricsPort ?? DEFAULT_METRICS_PORT;
  try {
    const server = await serveMetrics(metrics.registry, port);
    log(`metrics: http://127.0.0.1:${server.port}/metrics`);
    return server;
  } catch (err) {
    log(`metrics: cannot listen on port ${port} (${(err as Error).message}); continuing without /metrics`);
    return undefined;
  }
}
