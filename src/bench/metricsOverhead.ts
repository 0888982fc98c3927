/**
 * `ecgflow bench metrics-overhead`: what observability costs the replay benchmark. The same round as
 * `bench replay` (every record produced and consumed back decoded, with accounting) runs several times with
 * everything on - the metrics registry with process metrics, `/metrics` scraped every second, the
 * consumer-lag monitor, the energy tracker sampling every second - and as often with metrics disabled
 * (no-op instruments, no endpoint, no lag monitor, no energy tracker), alternating on/off and off/on so
 * that drift on a shared machine falls on both sides. Reports the medians and their ratio (target: on is
 * within 3% of off), and the same for this process's CPU seconds per round, which neighbours on a shared
 * machine disturb far less than throughput. `--bus memory` runs the rounds on the in-process bus, where nothing but the pipeline
 * uses the CPU and the relative cost of metrics is largest.
 */
import type { Command } from 'commander';
import { KafkaBus } from '../bus/kafkaBus';
import { MemoryBus } from '../bus/memoryBus';
import type { Bus } from '../bus/types';
import { resolveBrokers } from '../config/settings';
import { EnergyTracker, energySettings } from '../energy';
import { ensureBroker } from '../kafka/localBroker';
import { ConsumerLagMonitor, kafkaLagAdmin } from '../metrics/consumerLag';
import { Metrics, serveMetrics } from '../metrics/registry';
import { log, printJson, table } from '../util/output';
import {
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  parsePositiveNumber,
  OWN_BROKER,
} from '../cli/options';
import { replayRound, replayRoundInput, type ReplayRoundResult } from './replay';

interface Flags {
  records: string;
  repetitions: number;
  partitions: number;
  lead: string;
  bus: 'kafka' | 'memory';
  scrapeIntervalSeconds: number;
  timeoutSeconds: number;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
}

export interface MetricsOverheadResult {
  bus: 'kafka' | 'memory';
  records: number;
  samples: number;
  repetitions: number;
  /** End-to-end samples/s of each round, in the order run. */
  samplesPerSecondOn: number[];
  samplesPerSecondOff: number[];
  medianOn: number;
  medianOff: number;
  /** medianOn / medianOff: 1 = no cost, 0.97 = 3% slower with metrics. */
  ratio: number;
  overheadPercent: number;
  /** Median over repetitions of on/off within each adjacent pair of rounds (cancels slow drift). */
  pairedRatio: number;
  /** (max - min) / median of the "off" rounds: the noise the ratio has to be read against. */
  offSpreadPercent: number;
  /** CPU seconds (user + system) this process spent per round; less sensitive to neighbours than wall time. */
  cpuSecondsOn: number[];
  cpuSecondsOff: number[];
  /** median CPU on / median CPU off: 1.03 = metrics cost 3% more CPU. */
  cpuRatio: number;
  targetPercent: number;
  withinTarget: boolean;
  /** Scrapes of /metrics during the "on" rounds, and the size of the last exposition. */
  scrapes: number;
  expositionBytes: number;
  lostSamples: number;
  duplicatedChunks: number;
}

export const TARGET_OVERHEAD_PERCENT = 3;

export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function register(bench: Command): void {
  const cmd = bench
    .command('metrics-overhead')
    .description('the replay benchmark with metrics on and off, alternating; print medians and their ratio')
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option('--repetitions <n>', 'rounds per mode', parsePositiveNumber('repetitions'), 7)
    .option('--partitions <n>', 'partitions of the samples topic', parsePositiveNumber('partitions'), 6)
    .option('--lead <name>', 'lead to publish', 'MLII')
    .option('--bus <kind>', 'kafka (a real broker) or memory (the in-process bus)', 'kafka')
    .option(
      '--scrape-interval-seconds <s>',
      'how often /metrics is scraped in the "on" rounds',
      parsePositiveNumber('scrape-interval-seconds'),
      1,
    )
    .option(
      '--timeout-seconds <s>',
      'give up waiting for the consumer after this long',
      parsePositiveNumber('timeout-seconds'),
      300,
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd, `with --bus kafka, ${OWN_BROKER}`);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    if (flags.bus !== 'kafka' && flags.bus !== 'memory') throw new Error(`--bus must be kafka or memory`);
    const r = await benchMetricsOverhead(flags);
    const fmt = (xs: number[]) => xs.map((x) => `${(x / 1e6).toFixed(2)} M`).join(', ');
    const cpu = (xs: number[]) => Number(median(xs).toFixed(2));
    process.stdout.write(
      `${table([
        ['metrics', 'median samples/s', 'median CPU s', 'rounds (samples/s)'],
        ['on', Math.round(r.medianOn), cpu(r.cpuSecondsOn), fmt(r.samplesPerSecondOn)],
        ['off', Math.round(r.medianOff), cpu(r.cpuSecondsOff), fmt(r.samplesPerSecondOff)],
      ])}\non/off ${r.ratio.toFixed(3)} (overhead ${r.overheadPercent.toFixed(1)}%, target <= ${r.targetPercent}%; paired ${r.pairedRatio.toFixed(3)}; off rounds spread ${r.offSpreadPercent.toFixed(0)}%), CPU on/off ${r.cpuRatio.toFixed(3)}; ${r.scrapes} scrapes of ${r.expositionBytes} bytes; lost ${r.lostSamples}, duplicated ${r.duplicatedChunks}\n`,
    );
    if (flags.json) printJson(r);
  });
}

/** Everything "metrics on" means in a long-running command, around one round. */
async function withObservability<T>(
  bus: Bus,
  brokers: readonly string[] | undefined,
  groupId: string,
  samplesTopic: string,
  scrapeIntervalSeconds: number,
  stats: { scrapes: number; bytes: number },
  fn: (metrics: Metrics) => Promise<T>,
): Promise<T> {
  const metrics = new Metrics();
  const server = await serveMetrics(metrics.registry, 0, '127.0.0.1');
  const energy = await EnergyTracker.detect(energySettings({ sampleIntervalSeconds: 1 }), { metrics });
  await energy.start();
  const lag =
    bus.kind === 'kafka' && brokers !== undefined
      ? new ConsumerLagMonitor(kafkaLagAdmin(brokers), [{ groupId, topics: [samplesTopic] }], metrics, {
          log,
        })
      : undefined;
  lag?.start();
  let scraping = Promise.resolve();
  const scrape = setInterval(() => {
    scraping = scraping.then(async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      stats.bytes = (await res.text()).length;
      stats.scrapes++;
    });
  }, scrapeIntervalSeconds * 1000);
  try {
    return await energy.attribute('replay', () => fn(metrics));
  } finally {
    clearInterval(scrape);
    await scraping.catch(() => undefined);
    await lag?.stop({ finalPoll: false });
    await energy.stop();
    await server.close();
  }
}

async function benchMetricsOverhead(flags: Flags): Promise<MetricsOverheadResult> {
  const input = await replayRoundInput(flags);
  const given = resolveBrokers(flags.brokers);
  const broker =
    flags.bus === 'memory'
      ? { brokers: undefined, started: false, stop: async () => undefined }
      : given === undefined
        ? await ensureBroker({ name: 'bench' })
        : { brokers: given, started: false, stop: async () => undefined };
  const bus: Bus =
    broker.brokers === undefined
      ? new MemoryBus()
      : new KafkaBus({ brokers: broker.brokers, clientId: 'ecgflow-bench-metrics' });
  const runId = `${Date.now()}-${process.pid}`;
  const stats = { scrapes: 0, bytes: 0 };
  type Round = ReplayRoundResult & { cpuSeconds: number };
  const on: Round[] = [];
  const off: Round[] = [];
  let round = 0;
  const runRound = async (mode: 'on' | 'off' | 'warm-up'): Promise<Round> => {
    round++;
    // CPU of the round itself (scrapes, lag polls and energy samples during it included), not of setting
    // up and tearing down the observability around it, which a long-running command does once.
    let cpuSeconds = 0;
    const timed = async (metrics: Metrics) => {
      const cpu0 = process.cpuUsage();
      try {
        return await replayRound(bus, input, options, metrics);
      } finally {
        const cpu = process.cpuUsage(cpu0);
        cpuSeconds = (cpu.user + cpu.system) / 1e6;
      }
    };
    const options = {
      partitions: flags.partitions,
      timeoutSeconds: flags.timeoutSeconds,
      prefix: `bench-metrics-${runId}-${round}.`,
      groupId: `bench-metrics-${runId}-${round}`,
    };
    const r =
      mode === 'on'
        ? await withObservability(
            bus,
            broker.brokers,
            options.groupId,
            `${options.prefix}ecg.samples`,
            flags.scrapeIntervalSeconds,
            stats,
            timed,
          )
        : await timed(new Metrics({ enabled: false }));
    if (!r.complete)
      throw new Error(`round ${round} (${mode}) did not complete within ${flags.timeoutSeconds}s`);
    log(
      `bench metrics-overhead: round ${round} ${mode}: ${(r.samplesPerSecond / 1e6).toFixed(2)} M samples/s, ${cpuSeconds.toFixed(2)} CPU s`,
    );
    return { ...r, cpuSeconds };
  };
  try {
    log(
      `bench metrics-overhead: ${input.records.length} records (${input.totalExpected.toLocaleString('en-US')} samples), ${flags.repetitions} rounds per mode on the ${flags.bus === 'memory' ? 'in-process bus' : `Kafka broker at ${broker.brokers?.join(',')}`}, after one warm-up round`,
    );
    await runRound('warm-up');
    for (let i = 0; i < flags.repetitions; i++) {
      const order: ('on' | 'off')[] = i % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const mode of order) (mode === 'on' ? on : off).push(await runRound(mode));
    }
  } finally {
    await bus.close();
    await broker.stop();
  }
  const medianOn = median(on.map((r) => r.samplesPerSecond));
  const medianOff = median(off.map((r) => r.samplesPerSecond));
  const ratio = medianOn / medianOff;
  const all = [...on, ...off];
  return {
    bus: flags.bus,
    records: input.records.length,
    samples: input.totalExpected,
    repetitions: flags.repetitions,
    samplesPerSecondOn: on.map((r) => r.samplesPerSecond),
    samplesPerSecondOff: off.map((r) => r.samplesPerSecond),
    medianOn,
    medianOff,
    ratio,
    overheadPercent: (1 - ratio) * 100,
    pairedRatio: median(on.map((r, i) => r.samplesPerSecond / off[i].samplesPerSecond)),
    offSpreadPercent:
      ((Math.max(...off.map((r) => r.samplesPerSecond)) - Math.min(...off.map((r) => r.samplesPerSecond))) /
        medianOff) *
      100,
    cpuSecondsOn: on.map((r) => r.cpuSeconds),
    cpuSecondsOff: off.map((r) => r.cpuSeconds),
    cpuRatio: median(on.map((r) => r.cpuSeconds)) / median(off.map((r) => r.cpuSeconds)),
    targetPercent: TARGET_OVERHEAD_PERCENT,
    withinTarget: (1 - ratio) * 100 <= TARGET_OVERHEAD_PERCENT,
    scrapes: stats.scrapes,
    expositionBytes: stats.bytes,
    lostSamples: all.reduce((a, r) => a + r.lostSamples, 0),
    duplicatedChunks: all.reduce((a, r) => a + r.duplicatedChunks, 0),
  };
}
