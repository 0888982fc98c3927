/**
 * `ecgflow beats build`: replay records -> samples topic -> pipeline `preprocess` (annotation-driven
 * segmentation, split per protocol) -> beats topic -> pipeline `beat-count`; prints the counts per AAMI
 * class and split. On the embedded bus by default (everything in this process), on Kafka with
 * `--brokers` (the beats stay on `<prefix>ecg.beats` for the trainer; the run's samples go to a private
 * topic that is deleted afterwards).
 */
import type { Command } from 'commander';
import type { Bus } from '../../bus/types';
import { runBeatCount } from '../../../pipelines/beatCount';
import { runPreprocess, type PreprocessConfig } from '../../../pipelines/preprocess';
import { runReplay } from '../../../pipelines/replay';
import type { BeatForm } from '../../dsp/beatWindows';
import { describeBus, openBus } from '../../bus/factory';
import { BatchingSink } from '../../bus/sink';
import { topicNames, topicSpecs } from '../../bus/topics';
import { resolveBrokers, resolveDataDir } from '../../config/settings';
import { ConfigError } from '../../errors';
import { Metrics } from '../../metrics/registry';
import { defaultSplitConfig, type Protocol } from '../../protocols/split';
import { log, printJson, table } from '../../util/output';
import { Progress } from '../../util/progress';
import { readHeader } from '../../wfdb/record';
import {
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  addMetricsOptions,
  parsePositiveNumber,
  resolveRecords,
  startMetricsServer,
} from '../options';

/** Kachuee et al.'s beat set, as the seed paper used it (protocol `intra`). */
export const SEED_PAPER_BEATS = 109_446;

interface BuildFlags {
  protocol: string;
  records: string;
  seed: number;
  form: string;
  filter?: boolean;
  beatRate: number;
  lead: string;
  topicPrefix: string;
  timeoutSeconds: number;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
  metrics?: boolean;
  metricsPort?: number;
}

export function register(program: Command): void {
  const beats = program.command('beats').description('build labelled beats from annotated records');
  const cmd = beats
    .command('build')
    .description(
      'replay records through the preprocess pipeline to the beats topic; print counts per class and split',
    )
    .requiredOption(
      '--protocol <intra|inter>',
      'split protocol: intra (seed paper, random beat-level) or inter (de Chazal DS1/DS2)',
    )
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option(
      '--seed <n>',
      'seed of the intra-patient split',
      (v) => parseInt(v, 10),
      defaultSplitConfig('intra').seed,
    )
    .option('--form <kachuee|centred>', 'beat form', 'kachuee')
    .option('--filter', 'baseline-wander and noise filtering before segmentation (off for the seed paper)')
    .option('--beat-rate <Hz>', 'sampling rate of the beats', parsePositiveNumber('beat-rate'), 125)
    .option('--lead <name>', 'lead to use (the first signal if a record lacks it)', 'MLII')
    .option('--topic-prefix <prefix>', 'prefix for the beats and dead-letter topic names', '')
    .option('--timeout-seconds <s>', 'give up after this long', parsePositiveNumber('timeout-seconds'), 900);
  addDataDirOption(cmd);
  addBrokersOption(cmd);
  addMetricsOptions(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: BuildFlags) => {
    if (flags.protocol !== 'intra' && flags.protocol !== 'inter')
      throw new ConfigError(`--protocol must be intra or inter, got "${flags.protocol}"`, 'protocol');
    if (flags.form !== 'kachuee' && flags.form !== 'centred')
      throw new ConfigError(`--form must be kachuee or centred, got "${flags.form}"`, 'form');
    if (!Number.isInteger(flags.seed)) throw new ConfigError('--seed must be an integer', 'seed');
    const protocol: Protocol = flags.protocol;
    const dataDir = resolveDataDir(flags.dataDir);
    const brokers = resolveBrokers(flags.brokers);
    const records = await resolveRecords(flags.records, dataDir);
    const summary = await buildBeats({
      protocol,
      seed: flags.seed,
      form: flags.form,
      filter: flags.filter === true,
      beatRateHz: flags.beatRate,
      lead: flags.lead,
      topicPrefix: flags.topicPrefix,
      timeoutSeconds: flags.timeoutSeconds,
      dataDir,
      brokers,
      records,
      metricsFlags: flags,
    });
    if (flags.json) {
      printJson(summary);
      return;
    }
    const classes = Object.keys(summary.byClass);
    const rows: (string | number)[][] = [['split', 'beats', ...classes]];
    for (const [split, s] of Object.entries(summary.bySplit))
      rows.push([split, s.beats, ...classes.map((c) => s.byClass[c] ?? 0)]);
    rows.push(['all', summary.beats, ...classes.map((c) => summary.byClass[c] ?? 0)]);
    process.stdout.write(`${table(rows)}\n`);
    if (summary.excluded > 0) process.stdout.write(`excluded by the protocol: ${summary.excluded}\n`);
    if (summary.seedPaper !== undefined)
      process.stdout.write(
        `seed paper (Kachuee et al.): ${SEED_PAPER_BEATS.toLocaleString('en-US')} beats; difference ${summary.seedPaper.differencePercent.toFixed(3)} %\n`,
      );
  });
}

export interface BuildBeatsOptions {
  protocol: Protocol;
  seed: number;
  form: BeatForm;
  filter: boolean;
  beatRateHz: number;
  lead: string;
  topicPrefix: string;
  timeoutSeconds: number;
  dataDir: string;
  brokers: string[] | undefined;
  records: string[];
  /** Build onto this bus (left open) instead of one opened from `brokers` (e.g. the trainer's embedded bus). */
  bus?: Bus;
  /** Topic for the beats; default `<topicPrefix>ecg.beats`. */
  beatsTopic?: string;
  metricsFlags?: { metrics?: boolean; metricsPort?: number };
}

export interface BuildBeatsSummary {
  protocol: Protocol;
  records: number;
  beats: number;
  byClass: Record<string, number>;
  bySplit: Record<string, { beats: number; byClass: Record<string, number> }>;
  excluded: number;
  /** The beats consumed back from the beats topic match what the pipeline wrote. */
  verified: boolean;
  duplicates: number;
  seedPaper?: { beats: number; differencePercent: number };
  events: Record<string, number>;
  deadLetters: number;
  bus: string;
  beatsTopic: string;
  seconds: number;
}

export async function buildBeats(options: BuildBeatsOptions): Promise<BuildBeatsSummary> {
  const startMs = Date.now();
  const bus = options.bus ?? openBus(options.brokers, 'ecgflow-beats-build');
  const runId = `${Date.now()}-${process.pid}`;
  const topics = {
    ...topicNames(options.topicPrefix),
    ...(options.beatsTopic === undefined ? {} : { beats: options.beatsTopic }),
  };
  const samplesTopic = `${options.topicPrefix}beats-build-${runId}.ecg.samples`;
  const split = { ...defaultSplitConfig(options.protocol, options.seed) };
  log(
    `beats build: protocol ${options.protocol} (seed ${split.seed}), ${options.records.length} records, form ${options.form}, ${options.beatRateHz} Hz, filter ${options.filter}, on ${describeBus(bus, options.brokers)}; beats to ${topics.beats}`,
  );
  const metrics = new Metrics({ defaultMetrics: false });
  const server =
    options.metricsFlags === undefined ? undefined : await startMetricsServer(metrics, options.metricsFlags);
  try {
    const specs = topicSpecs(topics).filter((s) => s.topic === topics.beats || s.topic === topics.deadLetter);
    await bus.ensureTopics([...specs, { topic: samplesTopic, partitions: 6 }]);
    const beatsSink = new BatchingSink(await bus.producer());
    const deadLetterSink = new BatchingSink(await bus.producer());
    const replaySink = new BatchingSink(await bus.producer());
    const samplesSource = bus.source({
      groupId: `beats-build-${runId}`,
      topics: [samplesTopic],
      fromBeginning: true,
    });
    let totalSamples = 0;
    for (const r of options.records) totalSamples += (await readHeader(options.dataDir, r)).frameCount ?? 0;
    const progress = new Progress('beats build', totalSamples, ' samples', 2000);
    const config: PreprocessConfig = {
      split,
      beatSampleRateHz: options.beatRateHz,
      form: options.form,
      filter: options.filter,
      beatsTopic: topics.beats,
      deadLetterTopic: topics.deadLetter,
      expectedSources: new Set(options.records),
      timeoutMs: options.timeoutSeconds * 1000,
      runId,
    };
    const preprocess = runPreprocess(config, samplesSource, beatsSink, deadLetterSink, metrics, log, (n) =>
      progress.tick(n),
    );
    // The count runs alongside, so the embedded bus can trim what it has consumed.
    const beatsSource = bus.source({
      groupId: `beats-count-${runId}`,
      topics: [topics.beats],
      fromBeginning: true,
    });
    const counting = runBeatCount(
      {
        expectedBeats: preprocess.done.then((s) => s.beats),
        runId,
        deadLetterTopic: topics.deadLetter,
        timeoutMs: options.timeoutSeconds * 1000,
      },
      beatsSource,
      deadLetterSink,
      metrics,
    );
    await runReplay(
      {
        dataDir: options.dataDir,
        records: options.records,
        speed: 'max',
        lead: options.lead,
        chunkSeconds: 1,
        annotator: 'atr',
        samplesTopic,
      },
      replaySink,
      metrics,
      () => undefined,
    );
    const summary = await preprocess.done;
    progress.finish();
    await samplesSource.stopped();
    if (!summary.complete)
      log(`beats build: not every record reached its end within ${options.timeoutSeconds} s`);
    const counted = await counting;
    await beatsSource.stopped();
    await replaySink.close();
    await beatsSink.close();
    await deadLetterSink.close();
    const verified =
      counted.complete &&
      counted.beats === summary.beats &&
      JSON.stringify(counted.bySplit) === JSON.stringify(summary.bySplit);
    if (!verified) log('beats build: WARNING: the beats consumed back differ from what the pipeline wrote');
    const all = options.protocol === 'intra' && options.records.length === 48;
    return {
      protocol: options.protocol,
      records: options.records.length,
      beats: summary.beats,
      byClass: summary.byClass,
      bySplit: summary.bySplit,
      excluded: summary.excluded,
      verified,
      duplicates: counted.duplicates,
      ...(all
        ? {
            seedPaper: {
              beats: SEED_PAPER_BEATS,
              differencePercent: (100 * (summary.beats - SEED_PAPER_BEATS)) / SEED_PAPER_BEATS,
            },
          }
        : {}),
      events: summary.events,
      deadLetters: summary.deadLetters,
      bus: bus.kind,
      beatsTopic: topics.beats,
      seconds: (Date.now() - startMs) / 1000,
    };
  } finally {
    await bus.deleteTopics([samplesTopic]).catch(() => undefined);
    if (options.bus === undefined) await bus.close();
    await server?.close();
  }
}
