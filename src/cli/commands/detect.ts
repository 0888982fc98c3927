/**
 * `ecgflow detect`: run the streaming QRS detector over WFDB records and score it beat by beat against
 * the reference annotations as EC57 / WFDB bxb does (150 ms match window, first 5 minutes not scored,
 * ventricular flutter episodes not scored). Gross (pooled) figures for all records and for the records
 * without paced beats, and a per-record table. `--via-kafka` replays the records through a real broker
 * and detects on the consumed stream; its detections are compared with the in-process run's.
 */
import type { Command } from 'commander';
import { detectChunks, runDetect, type DetectChainConfig } from '../../../pipelines/detect';
import { runReplay } from '../../../pipelines/replay';
import { KafkaBus } from '../../bus/kafkaBus';
import { BatchingSink } from '../../bus/sink';
import { topicNames } from '../../bus/topics';
import { resolveBrokers, resolveDataDir } from '../../config/settings';
import { ensureBroker } from '../../kafka/localBroker';
import { Metrics } from '../../metrics/registry';
import { SignalEventRecorder } from '../../metrics/signalEvents';
import type { RecordedLead } from '../../replay/chunker';
import { interleavedChunks } from '../../replay/interleave';
import { loadRecording } from '../../replay/loadRecording';
import { compareBeats, pool, score, type DetectionScore } from '../../scoring/bxb';
import { log, printJson, table } from '../../util/output';
import { Progress } from '../../util/progress';
import { hasPacedBeats, isBeat } from '../../wfdb/labels';
import {
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  parsePositiveNumber,
  resolveRecords,
  OWN_BROKER,
} from '../options';

interface DetectFlags {
  records: string;
  viaKafka?: boolean;
  rate?: number;
  filter?: boolean;
  lead: string;
  chunkSeconds: number;
  partitions: number;
  timeoutSeconds: number;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
}

export interface DetectCommandConfig {
  dataDir: string;
  records: string[];
  lead: string;
  chunkSeconds: number;
  chain: DetectChainConfig;
  viaKafka: boolean;
  partitions: number;
  timeoutSeconds: number;
  brokers: string[] | undefined;
}

export interface RecordScore extends DetectionScore {
  record: string;
  paced: boolean;
}

export interface DetectReport extends DetectionScore {
  records: number;
  nonPaced: DetectionScore & { records: number };
  perRecord: RecordScore[];
  path: 'in-process' | 'kafka';
  identicalToInProcess?: boolean;
  detections: number;
  samples: number;
  seconds: number;
  events: Record<string, number>;
  config: { rateHz: number | 'native'; filter: boolean; lead: string; chunkSeconds: number };
}

export function register(program: Command): void {
  const cmd = program
    .command('detect')
    .description('run the QRS detector over records and score it beat by beat (EC57 / bxb)')
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option('--via-kafka', 'replay the records through a real Kafka broker and detect on the consumed stream')
    .option(
      '--rate <Hz>',
      "resample to this rate before detecting (default: each record's own rate)",
      parsePositiveNumber('rate'),
    )
    .option('--filter', 'baseline-wander and noise filtering before detection')
    .option('--lead <name>', 'lead to analyse (the first signal if a record lacks it)', 'MLII')
    .option('--chunk-seconds <s>', 'seconds of signal per chunk', parsePositiveNumber('chunk-seconds'), 1)
    .option(
      '--partitions <n>',
      '--via-kafka: partitions of the samples topic',
      parsePositiveNumber('partitions'),
      6,
    )
    .option(
      '--timeout-seconds <s>',
      '--via-kafka: give up after this long',
      parsePositiveNumber('timeout-seconds'),
      600,
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd, `with --via-kafka, ${OWN_BROKER}`);
  addJsonOption(cmd);
  cmd.action(async (flags: DetectFlags) => {
    const dataDir = resolveDataDir(flags.dataDir);
    const config: DetectCommandConfig = {
      dataDir,
      records: await resolveRecords(flags.records, dataDir),
      lead: flags.lead,
      chunkSeconds: flags.chunkSeconds,
      chain: { sampleRateHz: flags.rate, filter: flags.filter === true },
      viaKafka: flags.viaKafka === true,
      partitions: flags.partitions,
      timeoutSeconds: flags.timeoutSeconds,
      brokers: resolveBrokers(flags.brokers),
    };
    log(
      `detect: ${config.records.length} records, lead ${config.lead}, rate ${config.chain.sampleRateHz ?? 'native'}, filter ${config.chain.filter}, ${config.viaKafka ? 'through Kafka' : 'in process'}`,
    );
    const report = await detect(config);
    if (flags.json) {
      printJson(report);
      return;
    }
    const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(2));
    const rows: (string | number)[][] = [['record', 'TP', 'FN', 'FP', 'Se %', '+P %', 'DER %']];
    for (const r of report.perRecord)
      rows.push([
        `${r.record}${r.paced ? ' (paced)' : ''}`,
        r.tp,
        r.fn,
        r.fp,
        fmt(r.se),
        fmt(r.ppv),
        fmt(r.der),
      ]);
    rows.push([
      `gross, ${report.records} records`,
      report.tp,
      report.fn,
      report.fp,
      fmt(report.se),
      fmt(report.ppv),
      fmt(report.der),
    ]);
    const np = report.nonPaced;
    rows.push([`gross, ${np.records} non-paced`, np.tp, np.fn, np.fp, fmt(np.se), fmt(np.ppv), fmt(np.der)]);
    process.stdout.write(`${table(rows)}\n`);
    if (report.identicalToInProcess !== undefined)
      process.stdout.write(`detections identical to the in-process run: ${report.identicalToInProcess}\n`);
  });
}

async function loadAll(config: DetectCommandConfig): Promise<Map<string, RecordedLead>> {
  const out = new Map<string, RecordedLead>();
  for (const r of config.records) {
    out.set(r, await loadRecording(config.dataDir, r, { lead: config.lead, annotator: 'atr' }));
  }
  return out;
}

export async function detect(config: DetectCommandConfig): Promise<DetectReport> {
  const startMs = Date.now();
  const recordings = await loadAll(config);
  const metrics = new Metrics({ defaultMetrics: false });
  const recorder = new SignalEventRecorder(metrics, 'detect', log);
  const progress = new Progress('detect', config.records.length, ' records');

  let detections: Map<string, number[]>;
  let identical: boolean | undefined;
  if (!config.viaKafka) {
    detections = new Map();
    // One record at a time keeps memory flat; results do not depend on the order.
    for (const [name, recording] of recordings) {
      const found = detectChunks(interleavedChunks([recording], config.chunkSeconds), config.chain, recorder);
      detections.set(name, found.get(name) ?? []);
      progress.tick();
    }
  } else {
    detections = await detectThroughKafka(config, metrics, recorder);
    progress.tick(config.records.length);
    const reference = new Map<string, number[]>();
    for (const [name, recording] of recordings) {
      reference.set(
        name,
        detectChunks(interleavedChunks([recording], config.chunkSeconds), config.chain).get(name) ?? [],
      );
    }
    identical = config.records.every(
      (r) => JSON.stringify(reference.get(r) ?? []) === JSON.stringify(detections.get(r) ?? []),
    );
    if (!identical) log('detect: WARNING: detections through Kafka differ from the in-process run');
  }
  progress.finish();

  const perRecord: RecordScore[] = [];
  let samples = 0;
  let detected = 0;
  for (const [name, recording] of recordings) {
    const found = detections.get(name) ?? [];
    detected += found.length;
    samples += recording.samples.length;
    const result = compareBeats(
      recording.annotations.map((a) => ({ sampleIndex: a.sampleIndex, symbol: a.symbol })),
      found,
      { sampleRateHz: recording.sampleRateHz, recordSamples: recording.samples.length, isBeat },
    );
    const paced = hasPacedBeats(
      recording.annotations.map((a) => ({
        sample: a.sampleIndex,
        code: 0,
        symbol: a.symbol,
        subtype: 0,
        chan: 0,
        num: 0,
      })),
    );
    perRecord.push({ record: name, paced, ...score(result) });
  }
  const nonPacedRecords = perRecord.filter((r) => !r.paced);
  return {
    records: perRecord.length,
    ...score(pool(perRecord)),
    nonPaced: { records: nonPacedRecords.length, ...score(pool(nonPacedRecords)) },
    perRecord,
    path: config.viaKafka ? 'kafka' : 'in-process',
    ...(identical === undefined ? {} : { identicalToInProcess: identical }),
    detections: detected,
    samples,
    seconds: (Date.now() - startMs) / 1000,
    events: { ...recorder.totals },
    config: {
      rateHz: config.chain.sampleRateHz ?? 'native',
      filter: config.chain.filter,
      lead: config.lead,
      chunkSeconds: config.chunkSeconds,
    },
  };
}

async function detectThroughKafka(
  config: DetectCommandConfig,
  metrics: Metrics,
  recorder: SignalEventRecorder,
): Promise<Map<string, number[]>> {
  const broker =
    config.brokers === undefined
      ? await ensureBroker({ name: 'detect' })
      : { brokers: config.brokers, started: false, stop: async () => undefined };
  const bus = new KafkaBus({ brokers: broker.brokers, clientId: 'ecgflow-detect' });
  const runId = `${Date.now()}-${process.pid}`;
  const topics = topicNames(`detect-${runId}.`);
  try {
    await bus.ensureTopics([
      { topic: topics.samples, partitions: config.partitions },
      { topic: topics.deadLetter, partitions: 1 },
    ]);
    log(`detect: through Kafka at ${broker.brokers.join(',')}, topic ${topics.samples}`);
    const deadLetterSink = new BatchingSink(await bus.producer());
    const producerSink = new BatchingSink(await bus.producer());
    const source = bus.source({ groupId: `detect-${runId}`, topics: [topics.samples], fromBeginning: true });
    const running = runDetect(
      {
        ...config.chain,
        expectedSources: new Set(config.records),
        deadLetterTopic: topics.deadLetter,
        timeoutMs: config.timeoutSeconds * 1000,
      },
      source,
      deadLetterSink,
      metrics,
      recorder,
    );
    await runReplay(
      {
        dataDir: config.dataDir,
        records: config.records,
        speed: 'max',
        lead: config.lead,
        chunkSeconds: config.chunkSeconds,
        annotator: undefined,
        samplesTopic: topics.samples,
      },
      producerSink,
      metrics,
    );
    const result = await running;
    await source.stopped();
    await producerSink.close();
    await deadLetterSink.close();
    if (!result.complete)
      log(`detect: the consumer did not see every record end within ${config.timeoutSeconds} s`);
    return result.detections;
  } finally {
    await bus.deleteTopics([topics.samples, topics.deadLetter]).catch(() => undefined);
    await bus.close();
    await broker.stop();
  }
}
