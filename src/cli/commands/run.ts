/**
 * `ecgflow run` (`npm start`): the main job on the embedded bus, or on Kafka with --brokers/KAFKA_BROKERS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { runMainJob } from '../../../pipelines/main';
import { ConfigError } from '../../errors';
import { DE_CHAZAL_DS1, DE_CHAZAL_DS2 } from '../../protocols/mitbih';
import type { Protocol } from '../../protocols/split';
import { DEFAULT_MISSION, liveRecords, runMission, type MissionSummary } from '../mission';
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
import { splitList } from '../../util/list';
import { describeDepths } from '../training';

interface RunFlags extends ObservabilityFlags {
  stages: 'replay' | 'all';
  protocol?: Protocol;
  depth: string;
  epochs: number;
  limitBeats: number;
  serveRecords?: string;
  serveSpeed: number | 'max' | 'auto';
  prematurityRule: boolean;
  out?: string;
  tfBackend?: string;
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
    .option('--no-download', 'fail instead of downloading the database when the data directory is empty')
    .option(
      '--stages <which>',
      '"all": replay, preprocess, train, serve live; "replay": the replay-and-consume stage only',
      'all',
    )
    .option(
      '--protocol <intra|inter>',
      'protocol of training and live scoring (default: inter when the records include DS1 and DS2 records, else intra)',
    )
    .option('--depth <initial,final>', 'training depths (6n+2)', DEFAULT_MISSION.depth)
    .option('--epochs <n>', 'training epochs', (v) => parseInt(v, 10), DEFAULT_MISSION.epochs)
    .option(
      '--limit-beats <n>',
      'train on a deterministic subset of about N beats',
      (v) => parseInt(v, 10),
      DEFAULT_MISSION.limitBeats,
    )
    .option(
      '--serve-records <list>',
      "records classified live (default: the protocol's test records among --records)",
    )
    .option(
      '--serve-speed <factor>',
      '"auto" (an offered load of about 500 beats/s), "max" or a real-time factor for the live replay',
      (v) => (v === 'auto' ? 'auto' : parseSpeed(v)),
      'auto' as number | 'max' | 'auto',
    )
    .option(
      '--no-prematurity-rule',
      'inter-patient: classify live by the arg-max alone, without the prematurity rule for S beats (ecgflow decision)',
    )
    .option('--out <dir>', 'training output (checkpoints, model, report); default out/run-<time>')
    .option('--tf-backend <name>', 'auto, native, gpu or js (env ECGFLOW_TF_BACKEND)');
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
    if (flags.stages !== 'all' && flags.stages !== 'replay')
      throw new ConfigError(`--stages must be all or replay, got "${flags.stages}"`, 'stages');
    if (flags.protocol !== undefined && flags.protocol !== 'intra' && flags.protocol !== 'inter')
      throw new ConfigError(`--protocol must be intra or inter, got "${flags.protocol}"`, 'protocol');
    const protocol: Protocol =
      flags.protocol ??
      (records.some((r) => DE_CHAZAL_DS1.includes(r)) && records.some((r) => DE_CHAZAL_DS2.includes(r))
        ? 'inter'
        : 'intra');
    const serveRecords = flags.serveRecords === undefined ? undefined : splitList(flags.serveRecords);
    const live = liveRecords({ protocol, serveRecords }, records);
    // auto: an offered load of about 500 beats/s (at ~75 bpm), well within what serve sustains on 2 cores,
    // so that the latency measured is processing, not a backlog.
    const serveSpeed =
      flags.serveSpeed === 'auto'
        ? Math.max(1, Math.min(240, Math.round(500 / (1.25 * Math.max(1, live.length)))))
        : flags.serveSpeed;
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
    if (flags.stages === 'all')
      log(
        `run: stages replay -> preprocess -> adaptive training -> live classification; protocol ${protocol}, depth ${flags.depth}, ${flags.epochs} epochs, about ${flags.limitBeats} beats, live: ${live.join(',')} at ${serveSpeed === 'max' ? 'max' : `${serveSpeed}x`}`,
      );
    const obs = await Observability.start(flags);
    if (brokers !== undefined)
      obs.watchConsumerLag(brokers, [{ groupId: config.groupId, topics: [config.topics.samples] }]);
    const replayed = new Progress('replayed', total, ' samples', 2000);
    const consumed = new Progress('consumed', total, ' samples', 2000);
    try {
      if (flags.stages === 'all') log('run: stage 1/4: replay and consume back');
      const summary = await runMainJob(
        config,
        bus,
        obs.metrics,
        (stage, n) => (stage === 'replayed' ? replayed : consumed).tick(n),
        obs.energy,
      );
      replayed.finish();
      consumed.finish();
      let mission: MissionSummary | undefined;
      if (flags.stages === 'all') {
        mission = await runMission(
          {
            bus,
            brokers,
            topics: config.topics,
            topicPrefix: flags.topicPrefix,
            dataDir,
            records,
            lead: flags.lead,
            obs,
            log,
          },
          {
            protocol,
            depth: flags.depth,
            epochs: flags.epochs,
            limitBeats: flags.limitBeats,
            serveRecords: live,
            serveSpeed,
            prematurityRule: flags.prematurityRule,
            outDir: path.resolve(
              flags.out ?? path.join('out', `run-${new Date().toISOString().replace(/[:.]/g, '-')}`),
            ),
            tfBackend: flags.tfBackend,
          },
        );
      }
      const energy = await obs.stop(); // after the consumer's last commit: the final lag poll sees it
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
        ...(mission === undefined ? {} : missionFields(mission)),
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
      if (mission !== undefined) process.stdout.write(missionTable(mission));
      if (energy !== undefined) log(`run: energy ${formatEnergy(energy)}`);
      if (flags.json) printJson(result);
      if (!c.complete || result.lostSamples !== 0 || (mission !== undefined && !mission.live.serve.complete))
        process.exitCode = 1;
    } catch (err) {
      obs.recordError('run', err);
      throw err;
    } finally {
      await bus.close();
      await obs.close();
    }
  });
}

const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)} %`);
const sec = (x: number | null) => (x === null ? '-' : `${x.toFixed(3)} s`);

/** The mission's figures in `run --json`. */
function missionFields(m: MissionSummary): Record<string, unknown> {
  const l = m.live;
  return {
    protocol: m.training.protocol,
    beatLogBeats: m.beatLog.beats,
    trainingSeconds: m.training.wallClockSeconds,
    trainingDepths: [m.training.depths[0], m.training.finalDepth],
    trainingGrowthEpochs: m.training.growthEpochs,
    testAccuracy: m.training.testAccuracy,
    modelDir: path.join(m.training.outDir, 'model'),
    liveRecords: l.records,
    liveSpeed: l.speed,
    liveBeats: l.beats,
    livePredictions: l.predictions,
    liveDuplicates: l.duplicates,
    liveBeatsPerSecond: l.beatsPerSecond,
    liveSeconds: l.seconds,
    liveComplete: l.serve.complete,
    liveAccuracy: l.score.accuracy,
    liveMatchedBeats: l.score.matched,
    liveScoredBeats: l.score.scored,
    liveReferenceBeats: l.score.referenceBeats,
    liveDetectionSe: l.score.detectionSe,
    liveDetectionPpv: l.score.detectionPpv,
    livePerClassRecall: l.score.perClassRecall,
    latencyP50Seconds: l.latency.endToEnd.p50,
    latencyP99Seconds: l.latency.endToEnd.p99,
    processingLatencyP50Seconds: l.latency.processing.p50,
    processingLatencyP99Seconds: l.latency.processing.p99,
    lookAheadP50Seconds: l.latency.lookAhead.p50,
    lookAheadP99Seconds: l.latency.lookAhead.p99,
    alerts: l.alerts,
  };
}

function missionTable(m: MissionSummary): string {
  const l = m.live;
  const t = m.training;
  return `${table([
    ['stage', 'result'],
    [
      'preprocess',
      `${m.beatLog.beats.toLocaleString('en-US')} beats in ${m.beatLog.topic} (${m.beatLog.seconds.toFixed(1)} s)`,
    ],
    [
      'train',
      `${t.mode} depth ${describeDepths(t)}, ${t.epochs} epochs in ${t.wallClockSeconds.toFixed(1)} s; test accuracy ${pct(t.testAccuracy)} (${t.protocol})`,
    ],
    [
      'serve: beats',
      `${l.beats.toLocaleString('en-US')} beats of ${l.records} records in ${l.seconds.toFixed(1)} s (${Math.round(l.beatsPerSecond)} beats/s), ${l.duplicates} duplicates`,
    ],
    [
      'serve: accuracy',
      `${pct(l.score.accuracy)} of ${l.score.scored.toLocaleString('en-US')} test-split beats${l.score.scored < l.score.matched ? ` (${(l.score.matched - l.score.scored).toLocaleString('en-US')} beats outside the test split not scored)` : ''}`,
    ],
    [
      'serve: detection',
      `Se ${pct(l.score.detectionSe)}, +P ${pct(l.score.detectionPpv)}: ${l.score.matched.toLocaleString('en-US')} of ${l.score.referenceBeats.toLocaleString('en-US')} reference beats within 150 ms (EC57 scoring: ecgflow detect)`,
    ],
    [
      'serve: recall',
      Object.entries(l.score.perClassRecall)
        .map(([c, r]) => `${c} ${pct(r)}`)
        .join(', '),
    ],
    [
      `serve: latency (${l.speed === 'max' ? 'max speed' : `${l.speed}x clock`})`,
      `end to end p50 ${sec(l.latency.endToEnd.p50)}, p99 ${sec(l.latency.endToEnd.p99)} = look-ahead p50 ${sec(l.latency.lookAhead.p50)} + processing p50 ${sec(l.latency.processing.p50)}, p99 ${sec(l.latency.processing.p99)}`,
    ],
    [
      'serve: alerts',
      Object.keys(l.alerts).length === 0
        ? 'none'
        : Object.entries(l.alerts)
            .map(([k, n]) => `${k} ${n}`)
            .join(', '),
    ],
  ])}\n`;
}
