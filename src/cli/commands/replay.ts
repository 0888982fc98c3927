/**
 * `ecgflow replay`: publish WFDB records (MIT-BIH by default) as a live sample stream.
 */
import type { Command } from 'commander';
import { runReplay, type ReplayConfig } from '../../../pipelines/replay';
import { describeBus, openBus } from '../../bus/factory';
import { BatchingSink } from '../../bus/sink';
import { topicNames, topicSpecs } from '../../bus/topics';
import { resolveBrokers, resolveDataDir } from '../../config/settings';
import { log, printJson, table } from '../../util/output';
import { Progress } from '../../util/progress';
import {
  addObservabilityOptions,
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

interface ReplayFlags extends ObservabilityFlags {
  records: string;
  speed: number | 'max';
  lead: string;
  chunkSeconds: number;
  annotations: boolean;
  topicPrefix: string;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
  metrics?: boolean;
  metricsPort?: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('replay')
    .description('replay WFDB records as sample chunks on the samples topic')
    .option('--records <list>', '"all" or comma-separated record names', 'all')
    .option(
      '--speed <factor>',
      '"max" or a real-time factor (1 = real time)',
      parseSpeed,
      'max' as number | 'max',
    )
    .option('--lead <name>', 'lead to publish (the first signal if a record lacks it)', 'MLII')
    .option('--chunk-seconds <s>', 'seconds of signal per message', parsePositiveNumber('chunk-seconds'), 1)
    .option('--no-annotations', 'do not attach the reference annotations')
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '');
  addDataDirOption(cmd);
  addBrokersOption(cmd);
  addMetricsOptions(cmd);
  addObservabilityOptions(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: ReplayFlags) => {
    const dataDir = resolveDataDir(flags.dataDir);
    const brokers = resolveBrokers(flags.brokers);
    const topics = topicNames(flags.topicPrefix);
    const config: ReplayConfig = {
      dataDir,
      records: await resolveRecords(flags.records, dataDir),
      speed: flags.speed,
      lead: flags.lead,
      chunkSeconds: flags.chunkSeconds,
      annotator: flags.annotations ? 'atr' : undefined,
      samplesTopic: topics.samples,
    };
    const bus = openBus(brokers, 'ecgflow-replay');
    log(
      `replay: ${config.records.length} records, speed ${config.speed}, lead ${config.lead}, on ${describeBus(bus, brokers)}, topic ${topics.samples}`,
    );
    const obs = await Observability.start(flags);
    const progress = new Progress('replay', config.records.length, ' records');
    try {
      await bus.ensureTopics(topicSpecs(topics));
      const sink = new BatchingSink(await bus.producer());
      try {
        const summary = await obs.attribute('replay', () =>
          runReplay(config, sink, obs.metrics, (e) => {
            if (e.done) progress.tick();
          }),
        );
        const energy = await obs.stop();
        if (energy !== undefined) log(`replay: energy ${formatEnergy(energy)}`);
        progress.finish();
        if (flags.json) {
          printJson(summary);
        } else {
          process.stdout.write(
            `${table([
              ['records', summary.records],
              ['samples', summary.samples],
              ['messages', summary.messages],
              ['seconds', summary.seconds],
              ['samples/s', Math.round(summary.samplesPerSecond)],
            ])}\n`,
          );
        }
      } finally {
        await sink.close();
      }
    } catch (err) {
      obs.recordError('replay', err);
      throw err;
    } finally {
      await bus.close();
      await obs.close();
    }
  });
}
