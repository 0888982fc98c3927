/**
 * A real Kafka broker for tests and benchmarks: either the one named by `KAFKA_BROKERS`, or a single-node
 * KRaft broker that `scripts/kafka/broker.sh` provisions from Maven Central and runs under `.kafka/<name>/`
 * (see docs/kafka-local.md). This module only drives that script; it knows nothing about topics.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { resolveBrokers } from '../config/settings';
import { BrokerStartError, EcgflowError, describeError } from '../errors';
import { projectRoot } from '../util/projectRoot';

export interface EnsureBrokerOptions {
  /**
   * Name of the local broker (its directory under `.kafka/`). Default `test`. If a broker of that name is
   * already running for another live process, `<name>-<pid>` is used instead so that two runs never share
   * (and stop) each other's broker.
   */
  name?: string;
  /** Environment read for `KAFKA_BROKERS` and passed to the script. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** How long the script waits for the new broker to answer a metadata request. Default 90 s. */
  startTimeoutSeconds?: number;
  /** Receives the script's progress lines. Default: written to stderr. */
  log?: (line: string) => void;
}

export interface LocalBroker {
  /** Bootstrap addresses, `host:port`. */
  brokers: string[];
  /** True when this call started a broker (and `stop()` stops it); false when `KAFKA_BROKERS` was used. */
  started: boolean;
  /** Name of the broker under `.kafka/` when `started`; undefined otherwise. */
  name?: string;
  /** Stop the broker this call started and delete its data; a no-op otherwise. Safe to call twice. */
  stop(): Promise<void>;
}

/** `broker.sh start` exit status meaning "a broker of that name is already running for someone else". */
const EXIT_NAME_BUSY = 3;

/**
 * Return a broker to talk to. With `KAFKA_BROKERS` set (comma-separated `host:port`) it is used as is and
 * `stop()` does nothing, so CI or a developer can point every test at one broker; otherwise the local
 * broker is provisioned (a no-op once `.kafka/lib` is up to date) and started, and the caller must call
 * `stop()` (prefer {@link withBroker}, which always does). A broker whose owner dies without stopping it
 * is stopped by the next `start`.
 *
 * @example
 *   const broker = await ensureBroker({ name: 'bench' });
 *   try { await runBenchmark(broker.brokers); } finally { await broker.stop(); }
 */
export async function ensureBroker(opts: EnsureBrokerOptions = {}): Promise<LocalBroker> {
  const env = opts.env ?? process.env;
  const given = resolveBrokers(undefined, env);
  if (given !== undefined) return { brokers: given, started: false, stop: async () => {} };

  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const timeoutSeconds = opts.startTimeoutSeconds ?? 90;
  const requested = opts.name ?? 'test';

  const provision = await runScript(['provision'], env, log);
  if (provision.code !== 0) {
    throw new BrokerStartError(
      `provisioning failed (exit ${provision.code}); see the lines above`,
      { source: SCRIPT },
      true,
    );
  }

  let name = requested;
  let start = await runScript(startArgs(name, timeoutSeconds), env, log);
  if (start.code === EXIT_NAME_BUSY) {
    name = `${requested}-${process.pid}`;
    log(`[kafka] '${requested}' is in use by another run; starting '${name}' instead`);
    start = await runScript(startArgs(name, timeoutSeconds), env, log);
  }
  const address = start.stdout.trim().split('\n').pop() ?? '';
  if (start.code !== 0 || !/^127\.0\.0\.1:\d+$/.test(address)) {
    throw new BrokerStartError(
      `broker '${name}' did not start (exit ${start.code}${start.signal ? `, ${start.signal}` : ''}); its log tail is above`,
      { source: path.join('.kafka', name, 'logs', 'server.log') },
      true,
    );
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= runScript(['stop', '--name', name], env, log).then((r) => {
      if (r.code !== 0)
        throw new EcgflowError('BROKER_STOP', `stopping broker '${name}' failed (exit ${r.code})`, {
          source: SCRIPT,
        });
    }));
  return { brokers: [address], started: true, name, stop };
}

/**
 * Run `fn` against a broker from {@link ensureBroker} and stop that broker afterwards, whether `fn`
 * resolves or throws.
 */
export async function withBroker<T>(
  fn: (brokers: string[]) => Promise<T>,
  opts: EnsureBrokerOptions = {},
): Promise<T> {
  const broker = await ensureBroker(opts);
  try {
    return await fn(broker.brokers);
  } finally {
    await broker.stop();
  }
}

const SCRIPT = 'scripts/kafka/broker.sh';

function startArgs(name: string, timeoutSeconds: number): string[] {
  return ['start', '--name', name, '--owner-pid', String(process.pid), '--timeout', String(timeoutSeconds)];
}

interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** Run broker.sh from the project root; stderr (progress) goes line by line to `log`, stdout is kept. */
function runScript(
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<ScriptResult> {
  const root = projectRoot();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(root, SCRIPT), ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (pending + d).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(line);
    });
    child.on('error', (err) =>
      reject(
        new BrokerStartError(
          `cannot run ${SCRIPT} ${args[0]}: ${describeError(err)}`,
          { source: SCRIPT },
          false,
          err,
        ),
      ),
    );
    child.on('close', (code, signal) => {
      if (pending !== '') log(pending);
      resolve({ code, signal, stdout });
    });
  });
}
