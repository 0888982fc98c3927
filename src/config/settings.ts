/**
 * Settings that many commands share, resolved the same way everywhere: an explicit flag wins, then the
 * environment variable, then the default. Only this module (and the CLI) read `process.env`.
 */
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { splitList } from '../util/list';

/** Default data directory, relative to the working directory; `data download` fills it. */
export const DEFAULT_DATA_DIR = 'data/mitdb';

export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = flag ?? env.ECGFLOW_DATA_DIR ?? DEFAULT_DATA_DIR;
  if (dir.trim() === '') throw new ConfigError('data directory is empty', 'data-dir');
  return path.resolve(dir);
}

/**
 * Kafka bootstrap brokers from `--brokers` or `KAFKA_BROKERS` (comma-separated host:port). Undefined means
 * "no broker": the command runs on the embedded in-process bus.
 */
export function resolveBrokers(flag?: string, env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const raw = flag ?? env.KAFKA_BROKERS;
  if (raw === undefined || raw.trim() === '') return undefined;
  const brokers = splitList(raw);
  for (const b of brokers) {
    if (!/^[^:\s]+:\d{1,5}$/.test(b)) throw new ConfigError(`broker "${b}" is not host:port`, 'brokers');
  }
  return brokers;
}
