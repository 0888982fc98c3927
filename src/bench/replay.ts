/**
 * `ecgflow bench replay`: every record produced through a real Kafka broker and consumed back decoded,
 * in one process, with per-record sequence and sample accounting so that the figure is only reported
 * alongside proof that nothing was lost or duplicated.
 */
import type { Command } from 'commander';
import { runReplay } from '../../pipelines/replay';
import { runSampleCheck } from '../../pipelines/sampleCheck';
import { KafkaBus } from '../bus/kafkaBus';
import type { Bus } from '../bus/types';
import { BatchingSink } from '../bus/sink';
import { topicNames } from '../bus/topics';
import { resolveBrokers, resolveDataDir } from '../config/settings';
import { EnergyTracker, energySettings } from '../energy';
import { ensureBroker } from '../kafka/localBroker';
import { Metrics } from '../metrics/registry';
import { log, printJson, table } from '../util/output';
import { Progress } from '../util/progress';
import { readHeader } from '../wfdb/record';
import { chooseLead } from '../wfdb/record';
import {
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  parsePositiveNumber,
  resolveRecords,
  OWN_BROKER,
} from '../cli/options';

interface Flags {
  records: string;
  partitions: number;
  lead: string;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
  timeoutSeconds: number;
}

export interface ReplayBenchResult {
  records: number;
  samples: number;
  messages: number;
  seconds: number;
  samplesPerSecond: number;
  produceSeconds: number;
  produceSamplesPerSecond: number;
  consumedSamples: number;
  lostSamples: number;
  duplicatedChunks: number;
  missingChunks: number;
  deadLetters: number;
  partitions: number;
  broker: string;
  /** This process's energy for the round (PUE applied), its CO2eq, and how it was obtained. */
  energyKwh: number;
  co2eqGrams: number;
  energyMethod: string;
}

export function register(bench: Command): void {
  const cmd = bench
    .command('replay')
    .description('produce records through a real Kafka broker and consume them back decoded; print samples/s')
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option('--partitions <n>', 'partitions of the samples topic', parsePositiveNumber('partitions'), 6)
    .option('--lead <name>', 'lead to publish', 'MLII')
    .option(
      '--timeout-seconds <s>',
      'give up waiting for the consumer after this long',
      parsePositiveNumber('timeout-seconds'),
      300,
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd, OWN_BROKER);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const result = await benchReplay(flags);
    if (flags.json) printJson(result);
    else
      process.stdout.write(
        `${table(Object.entries(result).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(3)) : v]))}\n`,
      );
  });
}

/** The records of a round and the sample counts their headers promise (independent of the replay code). */
export interface ReplayRoundInput {
  dataDir: string;
  records: string[];
  lead: string;
  expected: Map<string, number | undefined>;
  totalExpected: number;
}

export async function replayRoundInput(flags: {
  records: string;
  lead: string;
  dataDir?: string;
}): Promise<ReplayRoundInput> {
  const dataDir = resolveDataDir(flags.dataDir);
  const records = await resolveRecords(flags.records, dataDir);
  const expected = new Map<string, number | undefined>();
  for (const r of records) {
    const header = await readHeader(dataDir, r);
    chooseLead(header, flags.lead);
    expected.set(r, header.frameCount);
  }
  const totalExpected = [...expected.values()].reduce<number>((a, n) => a + (n ?? 0), 0);
  return { dataDir, records, lead: flags.lead, expected, totalExpected };
}

export interface ReplayRoundOptions {
  partitions: number;
  timeoutSeconds: number;
  /** Topic prefix and consumer group of this round (unique per round). */
  prefix: string;
  groupId: string;
  onConsumed?: (samples: number) => void;
}

export type ReplayRoundResult = Omit<
  ReplayBenchResult,
  'records' | 'partitions' | 'broker' | 'energyKwh' | 'co2eqGrams' | 'energyMethod'
> & {
  complete: boolean;
};

/**
 * One round: fresh topics, every record produced unpaced and consumed back decoded by a consumer group in
 * this process, with sample and sequence accounting; the topics are deleted afterwards. `seconds` runs
 * from the start of the replay to the last sample consumed.
 */
export async function replayRound(
  bus: Bus,
  input: ReplayRoundInput,
  options: ReplayRoundOptions,
  metrics: Metrics,
): Promise<ReplayRoundResult> {
  const topics = topicNames(options.prefix);
  try {
    await bus.ensureTopics([
      { topic: topics.samples, partitions: options.partitions },
      { topic: topics.deadLetter, partitions: 1 },
    ]);
    const deadLetterSink = new BatchingSink(await bus.producer());
    const producerSink = new BatchingSink(await bus.producer());
    const source = bus.source({ groupId: options.groupId, topics: [topics.samples], fromBeginning: true });
    const startMs = Date.now();
    const checking = runSampleCheck(
      {
        expected: input.expected,
        deadLetterTopic: topics.deadLetter,
        timeoutMs: options.timeoutSeconds * 1000,
      },
      source,
      deadLetterSink,
      metrics,
      (chunk) => options.onConsumed?.(chunk.samples.length),
    );
    const produced = await runReplay(
      {
        dataDir: input.dataDir,
        records: input.records,
        speed: 'max',
        lead: input.lead,
        chunkSeconds: 1,
        annotator: 'atr',
        samplesTopic: topics.samples,
      },
      producerSink,
      metrics,
    );
    const check = await checking;
    const seconds = (Date.now() - startMs) / 1000;
    await source.stopped();
    await producerSink.close();
    await deadLetterSink.close();
    return {
      samples: produced.samples,
      messages: produced.messages,
      seconds,
      samplesPerSecond: check.samples / seconds,
      produceSeconds: produced.seconds,
      produceSamplesPerSecond: produced.samplesPerSecond,
      consumedSamples: check.samples,
      lostSamples: Math.max(0, input.totalExpected - check.samples),
      duplicatedChunks: check.duplicates,
      missingChunks: check.missingChunks,
      deadLetters: check.deadLetters,
      complete: check.complete,
    };
  } finally {
    await bus.deleteTopics([topics.samples, topics.deadLetter]).catch(() => undefined);
  }
}

async function benchReplay(flags: Flags): Promise<ReplayBenchResult> {
  const input = await replayRoundInput(flags);
  const given = resolveBrokers(flags.brokers);
  const broker =
    given === undefined
      ? await ensureBroker({ name: 'bench' })
      : { brokers: given, started: false, stop: async () => undefined };
  const bus = new KafkaBus({ brokers: broker.brokers, clientId: 'ecgflow-bench-replay' });
  const runId = `${Date.now()}-${process.pid}`;
  const metrics = new Metrics({ defaultMetrics: false });
  // The energy of this process only (the broker is another process; RAPL, where readable, sees both).
  const energy = await EnergyTracker.detect(energySettings({ sampleIntervalSeconds: 1 }), { metrics });
  try {
    log(
      `bench replay: ${input.records.length} records (${input.totalExpected.toLocaleString('en-US')} samples) through Kafka at ${broker.brokers.join(',')}, ${flags.partitions} partitions`,
    );
    for (const line of energy.describe()) log(line);
    await energy.start();
    const progress = new Progress('consumed', input.totalExpected, ' samples', 2000);
    const span = energy.begin('replay');
    const { complete, ...round } = await replayRound(
      bus,
      input,
      {
        partitions: flags.partitions,
        timeoutSeconds: flags.timeoutSeconds,
        prefix: `bench-replay-${runId}.`,
        groupId: `bench-replay-${runId}`,
        onConsumed: (n) => progress.tick(n),
      },
      metrics,
    );
    const report = await span.end();
    progress.finish();
    if (!complete) log(`bench replay: consumer did not finish within ${flags.timeoutSeconds}s`);
    return {
      records: input.records.length,
      ...round,
      partitions: flags.partitions,
      broker: broker.started ? 'local (scripts/kafka/broker.sh)' : broker.brokers.join(','),
      energyKwh: report.energyKwh,
      co2eqGrams: report.co2eqGrams,
      energyMethod: report.method,
    };
  } finally {
    await energy.stop();
    await bus.close();
    await broker.stop();
  }
}
