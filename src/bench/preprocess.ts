/**
 * `ecgflow bench preprocess`: samples per second through the live signal chain
 * sanitize -> resample (125 Hz) -> filter -> detect -> segment (detected R-peaks, Kachuee form) -> STFT,
 * over the records' MLII leads.
 *
 * In process (default): the records are read and cut into 1 s chunks first (not timed, reported as
 * `loadSeconds`), then the chunks of all records, interleaved as a live bus would deliver them, are pushed
 * through the operator chain in batches of `--batch` chunks, the way a consumer's batch handler does
 * (OperatorAdapter). `--repeat` runs it several times; the figure is the median, the range is reported.
 * `--via-kafka`: the records are replayed into a real broker (ensureBroker) while a consumer decodes them
 * and runs the same chain; the figure is end to end (produce, broker, consume, decode, chain).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Command } from 'commander';
import { pipe, type OperatorFunction, type Subscription } from 'rxjs';
import { detectQrs } from '../../operators/detectQrs';
import { filterEcg } from '../../operators/filterEcg';
import { resample } from '../../operators/resample';
import { sanitizeSamples } from '../../operators/sanitizeSamples';
import { segmentBeats } from '../../operators/segmentBeats';
import { spectrogram } from '../../operators/spectrogram';
import type { BeatSpectrogram, SampleChunkLike, SignalEventSink } from '../../operators/types';
import { runReplay } from '../../pipelines/replay';
import { consumeDecoded } from '../bus/consume';
import { DeadLetterWriter } from '../bus/deadLetter';
import { KafkaBus } from '../bus/kafkaBus';
import { BatchingSink } from '../bus/sink';
import { topicNames } from '../bus/topics';
import {
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  parsePositiveNumber,
  resolveRecords,
  OWN_BROKER,
} from '../cli/options';
import { resolveBrokers, resolveDataDir } from '../config/settings';
import { ensureBroker } from '../kafka/localBroker';
import { Metrics } from '../metrics/registry';
import { loadRecording } from '../replay/loadRecording';
import type { RecordedLead } from '../replay/chunker';
import { interleavedChunks } from '../replay/interleave';
import { getCodecs } from '../schemas/codec';
import type { SampleChunkV1 } from '../schemas/types';
import { OperatorAdapter } from '../stream/operatorAdapter';
import type { WorkerResult } from './preprocessWorker';
import { log, printJson, table } from '../util/output';

interface Flags {
  records: string;
  viaKafka?: boolean;
  rate: number;
  batch: number;
  repeat: number;
  workers: number;
  partitions: number;
  lead: string;
  timeoutSeconds: number;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
}

export interface PreprocessBenchResult {
  path: 'in-process' | 'kafka';
  records: number;
  samples: number;
  beats: number;
  spectrogramShape: [number, number] | null;
  seconds: number;
  samplesPerSecond: number;
  /** In process: worker threads the sources were spread over. */
  workers?: number;
  /** In process with --repeat: every run's figure, and their range. */
  runs?: number[];
  samplesPerSecondMin?: number;
  samplesPerSecondMax?: number;
  loadSeconds?: number;
  produceSeconds?: number;
  broker?: string;
  events: Record<string, number>;
  chain: string;
}

const CHAIN = 'sanitize -> resample -> filterEcg -> detectQrs -> segmentBeats(detector) -> spectrogram';

/** The benchmarked chain. */
export function liveChain(
  rateHz: number,
  events?: SignalEventSink,
): OperatorFunction<SampleChunkLike, BeatSpectrogram> {
  return pipe(
    sanitizeSamples({ events }),
    resample(rateHz),
    filterEcg(),
    detectQrs(),
    segmentBeats({ rPeaks: 'detector', events }),
    spectrogram(),
  );
}

class EventTotals {
  readonly totals: Record<string, number> = {};
  next(e: { kind: string }): void {
    this.totals[e.kind] = (this.totals[e.kind] ?? 0) + 1;
  }
}

export function register(bench: Command): void {
  const cmd = bench
    .command('preprocess')
    .description(
      'samples/s through resample -> filter -> detect -> segment -> STFT, in process or through Kafka',
    )
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option('--via-kafka', 'replay through a real Kafka broker and run the chain in the consumer')
    .option('--rate <Hz>', 'resampling target', parsePositiveNumber('rate'), 125)
    .option(
      '--batch <n>',
      'in process: chunks per batch handed to the chain',
      parsePositiveNumber('batch'),
      500,
    )
    .option('--repeat <n>', 'in process: number of timed runs', parsePositiveNumber('repeat'), 3)
    .option(
      '--workers <n>',
      'in process: spread the records over this many worker threads (sources are independent)',
      parsePositiveNumber('workers'),
      1,
    )
    .option(
      '--partitions <n>',
      'Kafka: partitions of the samples topic',
      parsePositiveNumber('partitions'),
      6,
    )
    .option('--lead <name>', 'lead to use', 'MLII')
    .option(
      '--timeout-seconds <s>',
      'Kafka: give up after this long',
      parsePositiveNumber('timeout-seconds'),
      600,
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd, `with --via-kafka, ${OWN_BROKER}`);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const result = flags.viaKafka ? await benchKafka(flags) : await benchInProcess(flags);
    if (flags.json) printJson(result);
    else
      process.stdout.write(
        `${table(
          Object.entries(result)
            .filter(([, v]) => typeof v !== 'object' || v === null)
            .map(([k, v]) => [
              k,
              typeof v === 'number' && !Number.isInteger(v) ? Number(v.toFixed(3)) : String(v),
            ]),
        )}\n`,
      );
  });
}

async function loadRecords(
  flags: Flags,
): Promise<{ dataDir: string; records: string[]; recordings: RecordedLead[] }> {
  const dataDir = resolveDataDir(flags.dataDir);
  const records = await resolveRecords(flags.records, dataDir);
  const recordings: RecordedLead[] = [];
  for (const r of records)
    recordings.push(await loadRecording(dataDir, r, { lead: flags.lead, annotator: undefined }));
  return { dataDir, records, recordings };
}

async function benchInProcess(flags: Flags): Promise<PreprocessBenchResult> {
  if (flags.workers > 1) return benchWorkers(flags);
  const loadStart = performance.now();
  const { records, recordings } = await loadRecords(flags);
  const chunks = [...interleavedChunks(recordings, 1)];
  const samples = chunks.reduce((n, c) => n + c.samples.length, 0);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  log(
    `bench preprocess: ${records.length} records, ${samples.toLocaleString('en-US')} samples in ${chunks.length} chunks (loaded in ${loadSeconds.toFixed(1)} s); chain: ${CHAIN} at ${flags.rate} Hz; ${flags.repeat} run(s)`,
  );
  const runs: number[] = [];
  let beats = 0;
  let shape: [number, number] | null = null;
  let events: Record<string, number> = {};
  let seconds = 0;
  for (let run = 0; run < flags.repeat; run++) {
    const totals = new EventTotals();
    const adapter = new OperatorAdapter(liveChain(flags.rate, totals));
    beats = 0;
    const t0 = performance.now();
    const count = (out: BeatSpectrogram[]) => {
      beats += out.length;
      if (shape === null && out.length > 0) shape = [out[0].bins, out[0].frames];
    };
    for (let i = 0; i < chunks.length; i += flags.batch)
      count(adapter.process(chunks.slice(i, i + flags.batch)));
    count(adapter.end());
    seconds = (performance.now() - t0) / 1000;
    runs.push(samples / seconds);
    events = totals.totals;
    log(
      `run ${run + 1}: ${(samples / seconds).toFixed(0)} samples/s (${seconds.toFixed(2)} s, ${beats} beats)`,
    );
  }
  return {
    ...inProcessResult({ records: records.length, samples, beats, shape, workers: 1, runs, events }),
    loadSeconds,
  };
}

/** The in-process result of several timed runs: the median run is the figure, with the range beside it. */
function inProcessResult(r: {
  records: number;
  samples: number;
  beats: number;
  shape: [number, number] | null;
  workers: number;
  runs: number[];
  events: Record<string, number>;
}): PreprocessBenchResult {
  const sorted = [...r.runs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return {
    path: 'in-process',
    records: r.records,
    samples: r.samples,
    beats: r.beats,
    spectrogramShape: r.shape,
    seconds: r.samples / median,
    samplesPerSecond: median,
    workers: r.workers,
    runs: r.runs,
    samplesPerSecondMin: sorted[0],
    samplesPerSecondMax: sorted[sorted.length - 1],
    events: r.events,
    chain: CHAIN,
  };
}

/** The records spread round-robin over worker threads; one timed run per --repeat, all workers at once. */
async function benchWorkers(flags: Flags): Promise<PreprocessBenchResult> {
  const dataDir = resolveDataDir(flags.dataDir);
  const records = await resolveRecords(flags.records, dataDir);
  const shares = Array.from({ length: flags.workers }, (_, w) =>
    records.filter((_, i) => i % flags.workers === w),
  );
  log(
    `bench preprocess: ${records.length} records over ${flags.workers} worker threads; chain: ${CHAIN} at ${flags.rate} Hz; ${flags.repeat} run(s)`,
  );
  const runs: number[] = [];
  let samples = 0;
  let beats = 0;
  let shape: [number, number] | null = null;
  for (let run = 0; run < flags.repeat; run++) {
    const workers = shares
      .filter((share) => share.length > 0)
      .map(
        (share) =>
          new Worker(path.join(__dirname, 'preprocessWorker.js'), {
            workerData: { dataDir, records: share, lead: flags.lead, rateHz: flags.rate, batch: flags.batch },
          }),
      );
    const message = (w: Worker) =>
      new Promise<unknown>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
    await Promise.all(workers.map(message)); // every worker has loaded its records
    const t0 = performance.now();
    const results = workers.map(message) as Promise<WorkerResult>[];
    for (const w of workers) w.postMessage('start');
    const done = await Promise.all(results);
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(workers.map((w) => w.terminate()));
    samples = done.reduce((n, r) => n + r.samples, 0);
    beats = done.reduce((n, r) => n + r.beats, 0);
    shape = done.find((r) => r.shape !== null)?.shape ?? null;
    runs.push(samples / seconds);
    log(
      `run ${run + 1}: ${(samples / seconds).toFixed(0)} samples/s (${seconds.toFixed(2)} s, ${beats} beats)`,
    );
  }
  return inProcessResult({
    records: records.length,
    samples,
    beats,
    shape,
    workers: flags.workers,
    runs,
    events: {},
  });
}

async function benchKafka(flags: Flags): Promise<PreprocessBenchResult> {
  const { dataDir, records, recordings } = await loadRecords(flags);
  const expected = new Map(recordings.map((r) => [r.sourceId, r.samples.length]));
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  const given = resolveBrokers(flags.brokers);
  const broker =
    given === undefined
      ? await ensureBroker({ name: 'bench' })
      : { brokers: given, started: false, stop: async () => undefined };
  const bus = new KafkaBus({ brokers: broker.brokers, clientId: 'ecgflow-bench-preprocess' });
  const runId = `${Date.now()}-${process.pid}`;
  const topics = topicNames(`bench-preprocess-${runId}.`);
  const metrics = new Metrics({ defaultMetrics: false });
  try {
    await bus.ensureTopics([
      { topic: topics.samples, partitions: flags.partitions },
      { topic: topics.deadLetter, partitions: 1 },
    ]);
    log(
      `bench preprocess: ${records.length} records (${total.toLocaleString('en-US')} samples) through Kafka at ${broker.brokers.join(',')}, ${flags.partitions} partitions; chain: ${CHAIN} at ${flags.rate} Hz`,
    );
    const deadLetterSink = new BatchingSink(await bus.producer());
    const producerSink = new BatchingSink(await bus.producer());
    const source = bus.source({
      groupId: `bench-preprocess-${runId}`,
      topics: [topics.samples],
      fromBeginning: true,
    });
    const totals = new EventTotals();
    const adapter = new OperatorAdapter(liveChain(flags.rate, totals));
    const deadLetters = new DeadLetterWriter(deadLetterSink, topics.deadLetter, 'bench-preprocess');
    const ended = new Set<string>();
    let beats = 0;
    let consumed = 0;
    let shape: [number, number] | null = null;
    const t0 = performance.now();
    const consuming = new Promise<boolean>((resolve, reject) => {
      const running: { subscription?: Subscription } = {};
      let done = false;
      const finish = (complete: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        running.subscription?.unsubscribe();
        resolve(complete);
      };
      const timer = setTimeout(() => finish(false), flags.timeoutSeconds * 1000);
      running.subscription = consumeDecoded<SampleChunkV1>({
        source,
        codec: getCodecs().SampleChunk,
        deadLetters,
        sinks: [deadLetterSink],
        handler: (items) => {
          const values = items.map((i) => i.value);
          for (const c of values) {
            consumed += c.samples.length;
            if (c.endOfStream) ended.add(c.sourceId);
          }
          const out = adapter.process(values);
          beats += out.length;
          if (shape === null && out.length > 0) shape = [out[0].bins, out[0].frames];
        },
      }).subscribe({
        next: () => {
          if (records.every((r) => ended.has(r))) finish(true);
        },
        error: (err: unknown) => {
          done = true;
          clearTimeout(timer);
          reject(err);
        },
      });
    });
    const produced = await runReplay(
      {
        dataDir,
        records,
        speed: 'max',
        lead: flags.lead,
        chunkSeconds: 1,
        annotator: undefined,
        samplesTopic: topics.samples,
      },
      producerSink,
      metrics,
    );
    const complete = await consuming;
    beats += adapter.end().length;
    const seconds = (performance.now() - t0) / 1000;
    await source.stopped();
    await producerSink.close();
    await deadLetterSink.close();
    if (!complete) log(`bench preprocess: the consumer did not finish within ${flags.timeoutSeconds} s`);
    return {
      path: 'kafka',
      records: records.length,
      samples: consumed,
      beats,
      spectrogramShape: shape,
      seconds,
      samplesPerSecond: consumed / seconds,
      produceSeconds: produced.seconds,
      broker: broker.started ? 'local (scripts/kafka/broker.sh)' : broker.brokers.join(','),
      events: totals.totals,
      chain: CHAIN,
    };
  } finally {
    await bus.deleteTopics([topics.samples, topics.deadLetter]).catch(() => undefined);
    await bus.close();
    await broker.stop();
  }
}
