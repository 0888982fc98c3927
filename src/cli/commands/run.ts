/**
 * `ecgflow run` (`npm start`): the main job on the embedded bus, or on Kafka with --brokers/KAFKA_BROKERS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { runMainJob } from '../../../pipelines/main';
import { describeBus, openBus } from '../../bus/factory';
import { topicNames } from '../../bus/topics';
import { resolveBrokers, resolveDataDir } from '../../config/settings';
import { downloadDatabase } from '../../data/download';
import { log, printJson, table } from '../../util/output';
import { Progress } from '../../util/progress';
import { readHeader } from '../../wfdb/record';
import {
  addObservabilityOptions,
  energySummary,
  formatEnergy,
  Observability,
  type ObservabilityFlags,
} from '../observability';
import {
  addBrokersOption,
  addDataDirOption,
  addJsonOption,
  addMetricsOptions,
  parsePositiveNumber,
  parseSpeed,
  resolveRecords,
} from '../options';

interface RunFlags extends ObservabilityFlags {
  records: string;
  speed: number | 'max';
  lead: string;
  topicPrefix: string;
  timeoutSeconds: number;
  download: boolean;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
  metrics?: boolean;
  metricsPort?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description('the main job: replay MIT-BIH through the pipeline and report (npm start)')
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option('--speed <factor>', '"max" or a real-time factor', parseSpeed, 'max' as number | 'max')
    .option('--lead <name>', 'lead to replay', 'MLII')
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '')
    .option(
      '--timeout-seconds <s>',
      'give up if the stream has not completed after this long',
      parsePositiveNumber('timeout-seconds'),
      600,
    )
    .option('--no-download', 'fail instead of downloading the database when the data directory is empty');
  addDataDirOption(cmd);
  addBrokersOption(cmd);
  addMetricsOptions(cmd);
  addObservabilityOptions(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: RunFlags) => {
    const dataDir = resolveDataDir(flags.dataDir);
    if (!fs.existsSync(path.join(dataDir, 'RECORDS')) && flags.download) {
      log(
        `run: no database in ${dataDir}; downloading MIT-BIH from PhysioNet (set ECGFLOW_DATA_DIR to use a local copy)`,
      );
      await downloadDatabase({ dataDir });
    }
    const records = await resolveRecords(flags.records, dataDir);
    const expectedSamples = new Map<string, number | undefined>();
    for (const r of records) expectedSamples.set(r, (await readHeader(dataDir, r)).frameCount);
    const total = [...expectedSamples.values()].reduce<number>((a, n) => a + (n ?? 0), 0);
    const brokers = resolveBrokers(flags.brokers);
    const bus = openBus(brokers, 'ecgflow-run');
    const config = {
      dataDir,
      records,
      expectedSamples,
      speed: flags.speed,
      lead: flags.lead,
      topics: topicNames(flags.topicPrefix),
      groupId: `ecgflow-run-${Date.now()}`,
      timeoutMs: flags.timeoutSeconds * 1000,
    };
    log(
      `run: ${records.length} records from ${dataDir}, speed ${flags.speed}, on ${describeBus(bus, brokers)}`,
    );
    const obs = await Observability.start(flags);
    if (brokers !== undefined)
      obs.watchConsumerLag(brokers, [{ groupId: config.groupId, topics: [config.topics.samples] }]);
    const replayed = new Progress('replayed', total, ' samples', 2000);
    const consumed = new Progress('consumed', total, ' samples', 2000);
    try {
      const summary = await runMainJob(
        config,
        bus,
        obs.metrics,
        (stage, n) => (stage === 'replayed' ? replayed : consumed).tick(n),
        obs.energy,
      );
      const energy = await obs.stop(); // after the consumer's last commit: the final lag poll sees it
      replayed.finish();
      consumed.finish();
      const c = summary.consumed;
      const result = {
        bus: bus.kind,
        records: summary.replay.records,
        samples: summary.replay.samples,
        messages: summary.replay.messages,
        consumedSamples: c.samples,
        lostSamples: total - c.samples,
        duplicatedChunks: c.duplicates,
        missingChunks: c.missingChunks,
        deadLetters: c.deadLetters,
        complete: c.complete,
        seconds: c.seconds,
        samplesPerSecond: c.samples / c.seconds,
        ...(energy === undefined ? {} : energySummary(energy)),
      };
      process.stdout.write(
        `${table([
          ['stage', 'records', 'samples', 'messages', 'seconds', 'samples/s'],
          [
            'replay',
            summary.replay.records,
            summary.replay.samples,
            summary.replay.messages,
            Number(summary.replay.seconds.toFixed(2)),
            Math.round(summary.replay.samplesPerSecond),
          ],
          [
            'consume',
            c.ended,
            c.samples,
            c.chunks,
            Number(c.seconds.toFixed(2)),
            Math.round(result.samplesPerSecond),
          ],
        ])}\nlost samples ${result.lostSamples}, duplicated chunks ${c.duplicates}, dead letters ${c.deadLetters}, complete ${c.complete}\n`,
      );
      if (energy !== undefined) log(`run: energy ${formatEnergy(energy)}`);
      if (flags.json) printJson(result);
      if (!c.complete || result.lostSamples !== 0) process.exitCode = 1;
    } catch (err) {
      obs.recordError('run', err);
      throw err;
    } finally {
      await bus.close();
      await obs.close();
    }
  });
}
