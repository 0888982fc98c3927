/**
 * `ecgflow ingest mllp --port 2575 [--http-port 8088]`: the bedside gateway (pipelines/ingest.ts,
 * docs/bedside-ingestion.md). Runs until SIGINT/SIGTERM, then prints what it accepted and refused.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { startIngest } from '../../../pipelines/ingest';
import { describeBus, openBus } from '../../bus/factory';
import { BatchingSink } from '../../bus/sink';
import { topicNames, topicSpecs } from '../../bus/topics';
import { resolveBrokers } from '../../config/settings';
import { ConfigError } from '../../errors';
import { DEFAULT_GATEWAY_CONFIG } from '../../ingest/gateway';
import { DEFAULT_MLLP_OPTIONS } from '../../ingest/mllpServer';
import { log, printJson, table } from '../../util/output';
import { addObservabilityOptions, Observability, type ObservabilityFlags } from '../observability';
import {
  addBrokersOption,
  addJsonOption,
  addMetricsOptions,
  parsePort,
  parsePositiveNumber,
} from '../options';
import { splitList } from '../../util/list';

interface Flags extends ObservabilityFlags {
  port: number;
  host: string;
  httpPort?: number;
  leads: string;
  gain: number;
  maxMessageBytes: number;
  maxSamples: number;
  patients?: string;
  toleranceSeconds: number;
  topicPrefix: string;
  brokers?: string;
  json?: boolean;
}

/** A patient list: comma-separated ids, or @file with one id per line. */
function readPatients(spec: string): Set<string> {
  const text = spec.startsWith('@') ? fs.readFileSync(spec.slice(1), 'utf8') : spec.replace(/,/g, '\n');
  const ids = text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'));
  if (ids.length === 0) throw new ConfigError('the patient list is empty', 'patients');
  return new Set(ids);
}

export function register(program: Command): void {
  const ingest = program.command('ingest').description('bedside-monitor ingestion onto the samples topic');
  const cmd = ingest
    .command('mllp')
    .description(
      'accept HL7 v2 PCD-01 waveforms over MLLP (and JSON over HTTP), ACK each, publish sample chunks',
    )
    .option('--port <port>', 'MLLP port', parsePort, DEFAULT_MLLP_OPTIONS.port)
    .option('--host <address>', 'listen address', '0.0.0.0')
    .option('--http-port <port>', 'also accept JSON waveforms at POST /v1/waveforms on this port', parsePort)
    .option(
      '--leads <list>',
      'leads to publish, in order of preference (one per patient)',
      DEFAULT_GATEWAY_CONFIG.leads.join(','),
    )
    .option(
      '--gain <adu/mV>',
      'ADC units per millivolt of the published chunks (1000 = 1 µV resolution)',
      parsePositiveNumber('gain'),
      DEFAULT_GATEWAY_CONFIG.gainAduPerMv,
    )
    .option(
      '--max-message-bytes <n>',
      'largest MLLP message accepted',
      parsePositiveNumber('max-message-bytes'),
      DEFAULT_MLLP_OPTIONS.maxMessageBytes,
    )
    .option(
      '--max-samples <n>',
      'most samples per lead in one message',
      parsePositiveNumber('max-samples'),
      DEFAULT_GATEWAY_CONFIG.maxSamplesPerLead,
    )
    .option('--patients <list|@file>', 'accept only these patients (PID-3); default: any')
    .option(
      '--tolerance-seconds <s>',
      'timing jitter between messages not counted as a gap or overlap',
      parsePositiveNumber('tolerance-seconds'),
      0.05,
    )
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '');
  addBrokersOption(cmd);
  addMetricsOptions(cmd);
  addObservabilityOptions(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const brokers = resolveBrokers(flags.brokers);
    const bus = openBus(brokers, 'ecgflow-ingest');
    if (bus.kind === 'memory')
      log(
        'ingest: no brokers given: publishing to an embedded bus that nothing else reads; pass --brokers or KAFKA_BROKERS',
      );
    const topics = topicNames(flags.topicPrefix);
    await bus.ensureTopics(
      topicSpecs(topics).filter((s) => s.topic === topics.samples || s.topic === topics.deadLetter),
    );
    const leads = splitList(flags.leads);
    if (leads.length === 0) throw new ConfigError('no leads given', 'leads');
    const config = {
      gateway: {
        ...DEFAULT_GATEWAY_CONFIG,
        samplesTopic: topics.samples,
        leads,
        gainAduPerMv: flags.gain,
        maxSamplesPerLead: Math.floor(flags.maxSamples),
        knownPatients: flags.patients === undefined ? undefined : readPatients(flags.patients),
        continuity: { toleranceSeconds: flags.toleranceSeconds },
      },
      deadLetterTopic: topics.deadLetter,
      mllp: { port: flags.port, host: flags.host, maxMessageBytes: Math.floor(flags.maxMessageBytes) },
      http:
        flags.httpPort === undefined
          ? undefined
          : { host: flags.host, port: flags.httpPort, maxBodyBytes: Math.floor(flags.maxMessageBytes) },
    };
    log(
      `ingest: configuration ${JSON.stringify({ ...config, gateway: { ...config.gateway, knownPatients: config.gateway.knownPatients === undefined ? 'any' : config.gateway.knownPatients.size } })} on ${describeBus(bus, brokers)}`,
    );
    const obs = await Observability.start(flags);
    const samplesSink = new BatchingSink(await bus.producer(), { lingerMs: 1 });
    const deadLetterSink = new BatchingSink(await bus.producer());
    const span = obs.energy?.begin('ingestion');
    const run = await startIngest(config, samplesSink, deadLetterSink, obs.metrics, log);
    log(
      `ingest: MLLP on ${run.mllp.address}${run.httpPort === undefined ? '' : `, JSON on http://${flags.host}:${run.httpPort}/v1/waveforms`}`,
    );
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log(`ingest: ${signal}: closing the listeners`);
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    try {
      await run.close();
      await span?.end();
      await obs.stop();
      const s = run.gateway.stats;
      const m = run.mllp.stats;
      process.stdout.write(
        `${table([
          [
            'connections',
            'messages',
            'accepted',
            'refused',
            'duplicates',
            'chunks',
            'samples',
            'gaps',
            'overlaps',
            'framing errors',
          ],
          [
            m.connections,
            m.messages,
            s.accepted,
            s.rejected,
            s.duplicates,
            s.chunks,
            s.samples,
            s.gaps,
            s.overlaps,
            m.framingErrors,
          ],
        ])}\n`,
      );
      if (flags.json)
        printJson({ ...s, connections: m.connections, messages: m.messages, framingErrors: m.framingErrors });
    } finally {
      await samplesSink.close();
      await deadLetterSink.close();
      await bus.close();
      await obs.close();
    }
  });
}
