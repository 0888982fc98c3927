/**
 * `ecgflow bench replay`: every record produced through a real Kafka broker and consumed back decoded,
 * in one process, with per-record sequence and sample accounting so that the figure is only reported
 * alongside proof that nothing was lost or duplicated.
 */
import type { Command } from 'commander';
import { runReplay } from '../../pipelines/replay';
import { runSampleCheck } from '../../pipelines/sampleCheck';
import { KafkaBus } from '../bus/kafkaBus';
import { BatchingSink } from '../bus/sink';
import { topicNames } from '../bus/topics';
import { resolveBrokers, resolveDataDir } from '../config/settings';
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
  addBrokersOption(cmd);
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

async function benchReplay(flags: Flags): Promise<ReplayBenchResult> {
  const dataDir = resolveDataDir(flags.dataDir);
  const records = await resolveRecords(flags.records, dataDir);
  const given = resolveBrokers(flags.brokers);
  const broker =
    given === undefined
      ? await ensureBroker({ name: 'bench' })
      : { brokers: given, started: false, stop: async () => undefined };
  const bus = new KafkaBus({ brokers: broker.brokers, clientId: 'ecgflow-bench-replay' });
  const runId = `${Date.now()}-${process.pid}`;
  const topics = topicNames(`bench-replay-${runId}.`);
  const metrics = new Metrics({ defaultMetrics: false });
  try {
    // Expected samples per record come from the headers, independently of the replay code path.
    const expected = new Map<string, number | undefined>();
    for (const r of records) {
      const header = await readHeader(dataDir, r);
      chooseLead(header, flags.lead);
      expected.set(r, header.frameCount);
    }
    const totalExpected = [...expected.values()].reduce<number>((a, n) => a + (n ?? 0), 0);
    await bus.ensureTopics([
      { topic: topics.samples, partitions: flags.partitions },
      { topic: topics.deadLetter, partitions: 1 },
    ]);
    log(
      `bench replay: ${records.length} records (${totalExpected.toLocaleString('en-US')} samples) through Kafka at ${broker.brokers.join(',')}, ${flags.partitions} partitions`,
    );

    const deadLetterSink = new BatchingSink(await bus.producer());
    const producerSink = new BatchingSink(await bus.producer());
    const source = bus.source({
      groupId: `bench-replay-${runId}`,
      topics: [topics.samples],
      fromBeginning: true,
    });
    const progress = new Progress('consumed', totalExpected, ' samples', 2000);
    const startMs = Date.now();
    const checking = runSampleCheck(
      { expected, deadLetterTopic: topics.deadLetter, timeoutMs: flags.timeoutSeconds * 1000 },
      source,
      deadLetterSink,
      metrics,
      (chunk) => progress.tick(chunk.samples.length),
    );
    const produced = await runReplay(
      {
        dataDir,
        records,
        speed: 'max',
        lead: flags.lead,
        chunkSeconds: 1,
        annotator: 'atr',
        samplesTopic: topics.samples,
      },
      producerSink,
      metrics,
    );
    const check = await checking;
    const seconds = (Date.now() - startMs) / 1000;
    progress.finish();
    await source.stopped();
    await producerSink.close();
    await deadLetterSink.close();
    if (!check.complete) log(`bench replay: consumer did not finish within ${flags.timeoutSeconds}s`);
    return {
      records: records.length,
      samples: produced.samples,
      messages: produced.messages,
      seconds,
      samplesPerSecond: check.samples / seconds,
      produceSeconds: produced.seconds,
      produceSamplesPerSecond: produced.samplesPerSecond,
      consumedSamples: check.samples,
      lostSamples: Math.max(0, totalExpected - check.samples),
      duplicatedChunks: check.duplicates,
      missingChunks: check.missingChunks,
      deadLetters: check.deadLetters,
      partitions: flags.partitions,
      broker: broker.started ? 'local (scripts/kafka/broker.sh)' : broker.brokers.join(','),
    };
  } finally {
    await bus.deleteTopics([topics.samples, topics.deadLetter]).catch(() => undefined);
    await bus.close();
    await broker.stop();
  }
}
