/**
 * `ecgflow serve --model DIR`: live beat classification on the samples topic (see pipelines/serve.ts and
 * docs/serving.md). Runs until SIGINT/SIGTERM, or with `--expect-sources` until those sources have ended;
 * then flushes every source's state and prints a summary.
 */
import type { Command } from 'commander';
import { KafkaBus } from '../../bus/kafkaBus';
import { MemoryBus } from '../../bus/memoryBus';
import { describeBus } from '../../bus/factory';
import { topicNames, topicSpecs } from '../../bus/topics';
import type { Bus } from '../../bus/types';
import { resolveBrokers } from '../../config/settings';
import { ConfigError } from '../../errors';
import { loadTf, resolveBackendPreference, runtimeSummary } from '../../tf/backend';
import { log, printJson, table } from '../../util/output';
import {
  addObservabilityOptions,
  energySummary,
  Observability,
  type ObservabilityFlags,
} from '../observability';
import { addBrokersOption, addJsonOption, addMetricsOptions, parsePositiveNumber } from '../options';
import { addServeOptions, serveConfigFrom, startServing, type ServeFlags } from '../serving';
import { splitList } from '../../util/list';

interface Flags extends ServeFlags, ObservabilityFlags {
  expectSources?: string;
  timeoutSeconds?: number;
  sessionTimeoutMs?: number;
  brokers?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description(
      'classify live beats from the samples topic, publish predictions and rhythm alerts, hot-swap new models',
    )
    .requiredOption(
      '--model <dir>',
      'initial model: a model directory, a checkpoint, or a `train --out` directory',
    )
    .option(
      '--expect-sources <list>',
      'finish once these sources (comma-separated) have ended (finite runs, tests)',
    )
    .option(
      '--timeout-seconds <s>',
      'with --expect-sources: give up after this long',
      parsePositiveNumber('timeout-seconds'),
    )
    .option(
      '--session-timeout-ms <ms>',
      'Kafka consumer session timeout (how soon a dead instance is replaced)',
      parsePositiveNumber('session-timeout-ms'),
    );
  addServeOptions(cmd);
  addBrokersOption(cmd);
  addMetricsOptions(cmd);
  addObservabilityOptions(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const runtime = await loadTf({ prefer: resolveBackendPreference(flags.tfBackend) });
    const brokers = resolveBrokers(flags.brokers);
    const bus: Bus =
      brokers === undefined
        ? new MemoryBus()
        : new KafkaBus({
            brokers,
            clientId: 'ecgflow-serve',
            ...(flags.sessionTimeoutMs === undefined
              ? {}
              : {
                  sessionTimeoutMs: flags.sessionTimeoutMs,
                  heartbeatIntervalMs: Math.max(100, Math.floor(flags.sessionTimeoutMs / 5)),
                }),
          });
    if (bus.kind === 'memory')
      log(
        'serve: no brokers given: serving on an empty embedded bus (only useful inside `ecgflow run`); pass --brokers or KAFKA_BROKERS',
      );
    const topics = topicNames(flags.topicPrefix);
    const expected = flags.expectSources === undefined ? undefined : new Set(splitList(flags.expectSources));
    if (expected !== undefined && expected.size === 0)
      throw new ConfigError('no sources given', 'expect-sources');
    const config = serveConfigFrom(flags, topics, {
      expectedSources: expected,
      timeoutMs: flags.timeoutSeconds === undefined ? undefined : flags.timeoutSeconds * 1000,
    });
    log(`serve: on ${describeBus(bus, brokers)}, TF ${JSON.stringify(runtimeSummary(runtime))}`);
    log(
      `serve: configuration ${JSON.stringify({ groupId: flags.groupId, from: flags.from, swapOn: flags.swapOn, followRun: flags.followRun ?? null, ...config, expectedSources: expected === undefined ? null : [...expected] })}`,
    );
    const obs = await Observability.start(flags);
    obs.metrics.setTfBackend(runtime.backend, runtime.tfVersion);
    if (brokers !== undefined)
      obs.watchConsumerLag(brokers, [{ groupId: flags.groupId, topics: [topics.samples] }]);
    await bus.ensureTopics(topicSpecs(topics).filter((s) => s.topic === topics.samples));
    const span = obs.energy?.begin('inference');
    const serving = await startServing({
      bus,
      brokers,
      topics,
      config,
      modelDir: flags.model,
      groupId: flags.groupId,
      fromBeginning: flags.from === 'earliest',
      swapOn: flags.swapOn,
      followRun: flags.followRun,
      maxBytesPerPartition: flags.maxBytesPerPartition,
      concurrentPartitions: flags.concurrentPartitions,
      metrics: obs.metrics,
      log,
    });
    const onSignal = (signal: string) => {
      log(`serve: ${signal}: finishing the batch in progress and flushing`);
      serving.run.stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const summary = await serving.run.done;
      await span?.end();
      const energy = await obs.stop();
      process.stdout.write(
        `${table([
          [
            'chunks',
            'samples',
            'predictions',
            'alerts',
            'micro-batches',
            'model',
            'swaps',
            'failed loads',
            'seconds',
          ],
          [
            summary.chunks,
            summary.samples,
            summary.predictions,
            summary.alerts,
            summary.microBatches,
            summary.modelVersion,
            summary.modelSwaps,
            summary.modelLoadFailures,
            Number(summary.seconds.toFixed(1)),
          ],
        ])}\n`,
      );
      if (flags.json)
        printJson({ ...summary, bus: bus.kind, ...(energy === undefined ? {} : energySummary(energy)) });
      if (expected !== undefined && !summary.complete) process.exitCode = 1;
    } catch (err) {
      obs.recordError('serve', err);
      throw err;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await serving.close();
      await bus.close();
      await obs.close();
    }
  });
}
