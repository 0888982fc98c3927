/**
 * A real Prometheus (Debian's package, provisioned by scripts/prometheus/provision.sh) scrapes the main
 * job while it runs on the real broker, and its query API returns the expected series with the right
 * values; `promtool check metrics` passes on the app's exposition and `promtool check config` on the
 * docker-compose scrape configuration. A machine without Prometheus that cannot install it fails here.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';
import { Metrics } from '../../src/metrics/registry';
import { projectRoot } from '../../src/util/projectRoot';
import { requireDataDir, uniquePrefix } from '../helpers/env';

const ROOT = projectRoot();
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dataDir = requireDataDir();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let broker: LocalBroker | undefined;
let workDir: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `promtool <args>` with `input` on stdin. */
function promtool(args: string[], input?: string) {
  const res = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, output: `${res.stdout ?? ''}${res.stderr ?? ''}`.trim() };
}

/** A Prometheus of our own: temporary config and data, one scrape job, stopped by PID. */
class PrometheusServer {
  private readonly child: ChildProcess;
  private exited: Promise<void>;
  readonly logFile: string;

  constructor(
    readonly port: number,
    targetPort: number,
    dir: string,
  ) {
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        'scrape_configs:',
        '  - job_name: ecgflow',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${targetPort}']`,
        '',
      ].join('\n'),
    );
    this.logFile = path.join(dir, 'prometheus.log');
    const log = fs.openSync(this.logFile, 'w');
    this.child = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  logTail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async ready(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`prometheus exited with ${this.child.exitCode}:\n${this.logTail()}`);
      try {
        if ((await fetch(`http://127.0.0.1:${this.port}/-/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`prometheus not ready after ${timeoutMs} ms:\n${this.logTail()}`);
  }

  /** Instant query; the result's samples as numbers, keyed by their labels. */
  async query(
    expr: string,
    timeSeconds: number,
  ): Promise<{ metric: Record<string, string>; value: number }[]> {
    const url = `http://127.0.0.1:${this.port}/api/v1/query?query=${encodeURIComponent(expr)}&time=${timeSeconds}`;
    const body = (await (await fetch(url)).json()) as {
      status: string;
      error?: string;
      data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    assert.equal(body.status, 'success', `query ${expr}: ${body.error}`);
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** The single value of `expr`, or a failure naming the query. */
  async scalar(expr: string, timeSeconds: number): Promise<number> {
    const result = await this.query(expr, timeSeconds);
    assert.equal(result.length, 1, `query ${expr} returned ${JSON.stringify(result)}`);
    return result[0].value;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const killed = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killed);
  }
}

/** Every metric of the catalogue with one series each, so that lint sees every name and type. */
async function fullExposition(): Promise<string> {
  const m = new Metrics();
  for (const metric of m.registry.getMetricsAsArray()) {
    const labelNames = (metric as unknown as { labelNames?: string[] }).labelNames ?? [];
    const labels = Object.fromEntries(labelNames.map((l) => [l, 'x']));
    const any = metric as unknown as {
      inc?: (l: object, v: number) => void;
      set?: (l: object, v: number) => void;
      observe?: (l: object, v: number) => void;
    };
    if (!metric.name.startsWith('ecg_') || labelNames.length === 0) continue;
    if (String(metric.type) === 'counter') any.inc?.(labels, 1);
    else if (String(metric.type) === 'gauge') any.set?.(labels, 1);
    else if (String(metric.type) === 'histogram') any.observe?.(labels, 0.15);
  }
  m.setTfBackend('tensorflow', '2.21.0');
  return m.registry.metrics();
}

describe('Prometheus scrapes the app', () => {
  before(async () => {
    const provision = spawnSync('bash', [path.join(ROOT, 'scripts', 'prometheus', 'provision.sh')], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 600_000,
    });
    if (provision.status !== 0)
      throw new Error(
        'Prometheus is missing and scripts/prometheus/provision.sh could not install it (see its output above); ' +
          "these tests need Debian's prometheus package (prometheus and promtool)",
      );
    broker = await ensureBroker({ name: 'test' });
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecg-prometheus-'));
  });

  after(async () => {
    await broker?.stop();
    if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('promtool check metrics passes on the whole catalogue', async () => {
    const text = await fullExposition();
    assert.match(text, /^ecg_training_lipschitz_smoothed\{mode="x"\} 1$/m);
    const r = promtool(['check', 'metrics'], text);
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output, '');
  });

  it("promtool check config passes on docker-compose's Prometheus configuration", () => {
    const r = promtool(['check', 'config', path.join(ROOT, 'docker', 'prometheus', 'prometheus.yml')]);
    assert.equal(r.status, 0, r.output);
  });

  it('scrapes `ecgflow run` on Kafka: throughput, lag, latency, energy and CO2 as expected', async () => {
    assert.ok(broker);
    const appPort = await freePort();
    const prometheus = new PrometheusServer(await freePort(), appPort, workDir);
    let app: ChildProcess | undefined;
    try {
      await prometheus.ready();
      const prefix = uniquePrefix('prometheus');
      let stdout = '';
      let stderr = '';
      // The replay-and-consume stage of the main job; `--stages replay` keeps it to that where the
      // command has grown the later stages (training, live classification).
      const help = spawnSync(process.execPath, [MAIN, 'run', '--help'], { encoding: 'utf8' }).stdout;
      const stages = help.includes('--stages') ? ['--stages', 'replay'] : [];
      app = spawn(
        process.execPath,
        [
          MAIN,
          'run',
          ...stages,
          '--records',
          '100,101',
          '--brokers',
          broker.brokers.join(','),
          '--topic-prefix',
          prefix,
          '--data-dir',
          dataDir,
          '--no-download',
          '--metrics-port',
          String(appPort),
          '--metrics-linger-seconds',
          '8',
          '--energy-interval-seconds',
          '1',
          '--json',
        ],
        { env: { ...process.env, KAFKA_BROKERS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      app.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
      app.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => app?.once('exit', (code) => resolve(code)));

      // The job is done and its final figures are up while it lingers.
      const deadline = Date.now() + 180_000;
      while (!stderr.includes('serving the final figures')) {
        assert.ok(app.exitCode === null, `ecgflow run exited early (${app.exitCode}):\n${stderr}`);
        assert.ok(Date.now() < deadline, `ecgflow run did not finish in time:\n${stderr}`);
        await sleep(100);
      }
      const finalAtSeconds = Date.now() / 1000;
      const exposition = await (await fetch(`http://127.0.0.1:${appPort}/metrics`)).text();
      const lint = promtool(['check', 'metrics'], exposition);
      assert.equal(lint.status, 0, `promtool check metrics on the app's /metrics:\n${lint.output}`);

      // Wait for a scrape that started after the final figures were published.
      let at = 0;
      while (at <= finalAtSeconds) {
        assert.ok(Date.now() < deadline, `no scrape after the job finished:\n${prometheus.logTail()}`);
        await sleep(250);
        const r = await prometheus.query('timestamp(up{job="ecgflow"})', Date.now() / 1000);
        at = r.length === 1 ? r[0].value : 0;
      }
      const q = (expr: string) => prometheus.scalar(expr, at);

      assert.equal(await q('up{job="ecgflow"}'), 1);
      assert.equal(await q('ecg_stage_samples_total{stage="replay"}'), 1_300_000);
      assert.equal(await q('ecg_stage_samples_total{stage="sample-check"}'), 1_300_000);
      assert.equal(await q('ecg_stage_messages_total{stage="replay"}'), 2 * Math.ceil(650_000 / 360));
      // Lag per partition of the job's consumer group: 6 partitions, all consumed.
      const lag = await prometheus.query(`ecg_kafka_consumer_lag_messages{topic="${prefix}ecg.samples"}`, at);
      assert.equal(lag.length, 6, JSON.stringify(lag));
      assert.deepEqual(
        lag.map((l) => l.value),
        [0, 0, 0, 0, 0, 0],
      );
      assert.match(lag[0].metric.group, /^ecgflow-run-\d+$/);
      // One end-to-end latency observation per chunk consumed; batches timed; the 200 ms bucket edge.
      assert.equal(await q('ecg_end_to_end_latency_seconds_count{stage="sample-check"}'), 3612);
      const le02 = await q('ecg_end_to_end_latency_seconds_bucket{stage="sample-check",le="0.2"}');
      assert.ok(le02 >= 0 && le02 <= 3612);
      assert.ok((await q('ecg_consumed_batch_size_messages_sum{stage="sample-check"}')) >= 3612);
      const meanBatchSeconds = await q(
        'ecg_stage_batch_duration_seconds_sum{stage="sample-check"} / ecg_stage_batch_duration_seconds_count{stage="sample-check"}',
      );
      assert.ok(meanBatchSeconds > 0 && meanBatchSeconds < 10, `mean batch time ${meanBatchSeconds}`);
      // Energy: the replay got some; facility = PUE x device energy; CO2 = kWh x intensity.
      const replayJ = await q('ecg_energy_joules_total{component="replay"}');
      assert.ok(replayJ > 0, `replay energy ${replayJ}`);
      const facilityJ = await q('sum(ecg_energy_joules_total)');
      const deviceJ = await q('sum(ecg_energy_device_joules_total)');
      assert.ok(
        Math.abs(facilityJ - 1.58 * deviceJ) <= 1e-9 * facilityJ,
        `${facilityJ} vs 1.58 x ${deviceJ}`,
      );
      const gramsPerJoule = await q('sum(ecg_co2eq_grams_total) / sum(ecg_energy_joules_total)');
      assert.ok(Math.abs(gramsPerJoule / (481 / 3.6e6) - 1) < 1e-9, `g/J ${gramsPerJoule}`);
      assert.equal(await q('ecg_energy_pue_ratio'), 1.58);
      assert.equal(await q('ecg_carbon_intensity_grams_per_kilowatt_hour'), 481);
      assert.equal(await q('count(ecg_energy_method_info{device="cpu"})'), 1);
      assert.ok((await q('ecg_process_cpu_seconds_total')) > 0);
      // Nothing went wrong.
      assert.equal((await prometheus.query('ecg_errors_total > 0', at)).length, 0);

      const code = await exited;
      assert.equal(code, 0, stderr);
      const summary = JSON.parse(stdout.trimEnd().split('\n').pop() ?? '{}') as Record<string, unknown>;
      assert.equal(summary.complete, true);
      assert.equal(summary.bus, 'kafka');
      // The summary's energy is the process total the counters add up to.
      const kwh = summary.energyKwh as number;
      assert.ok(Math.abs(kwh * 3.6e6 - facilityJ) <= 1e-6 * facilityJ, `${kwh} kWh vs ${facilityJ} J`);
      assert.equal(typeof summary.energyEstimated, 'boolean');
      assert.match(stderr, /energy: (ESTIMATED|measured) \(.*\); PUE 1\.58, carbon intensity 481 g\/kWh/);
    } finally {
      if (app !== undefined && app.exitCode === null) app.kill('SIGTERM');
      await prometheus.stop();
    }
  });
});
