/**
 * `ecgflow train`: adaptive (Lipschitz-triggered growth) or vanilla ResNet training on the beat log of a
 * protocol, on the embedded bus or on Kafka. Checkpoints every epoch; `--resume` continues a killed run.
 */
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { describeBus, openBus } from '../../bus/factory';
import { topicNames } from '../../bus/topics';
import { resolveBrokers, resolveDataDir } from '../../config/settings';
import { addObservabilityOptions, Observability, type ObservabilityFlags } from '../observability';
import { SPECTROGRAM_INPUT_SHAPE } from '../../model/config';
import { loadTf, resolveBackendPreference, runtimeSummary } from '../../tf/backend';
import type { TrainingMode } from '../../trainer/config';
import { log, printJson, table } from '../../util/output';
import { addBrokersOption, addDataDirOption, addJsonOption, addMetricsOptions } from '../options';
import {
  addTrainingOptions,
  beatsTopicFor,
  describeDepths,
  prepareBeatLog,
  trainOnce,
  validationRecordsFrom,
  trainingConfigFrom,
  type TrainingFlags,
  type TrainingSummary,
} from '../training';

interface TrainFlags extends TrainingFlags, ObservabilityFlags {
  mode: TrainingMode;
  out: string;
  resume?: boolean;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
}

export function printTrainingSummary(s: TrainingSummary): void {
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)} %`);
  process.stdout.write(
    `${table([
      ['mode', s.mode],
      [
        'depth',
        `${describeDepths(s)}${s.growthEpochs.length > 0 ? ` (growths after epochs ${s.growthEpochs.map((e) => e + 1).join(', ')})` : ''}`,
      ],
      ['PPE (parameters per epoch)', Math.round(s.ppe)],
      ['wall-clock', `${(s.wallClockSeconds / 60).toFixed(1)} min`],
      ['train / validation accuracy', `${pct(s.trainAccuracy)} / ${pct(s.validationAccuracy)}`],
      [
        'best validation (model-best/)',
        s.bestValidation === null
          ? '-'
          : `epoch ${s.bestValidation.epoch + 1}, depth ${s.bestValidation.depth}, macro-F1 ${s.bestValidation.macroF1.toFixed(4)}, accuracy ${pct(s.bestValidation.accuracy)}`,
      ],
      [
        'test accuracy / macro-F1',
        `${pct(s.testAccuracy)} / ${s.macroF1 === null ? '-' : s.macroF1.toFixed(4)}`,
      ],
      [
        'energy / CO2eq',
        s.energyKwh === null
          ? '-'
          : `${s.energyKwh.toFixed(4)} kWh / ${(s.co2eqGrams ?? 0).toFixed(1)} g (${s.energyMethod})`,
      ],
      ['S Se / +P', `${pct(s.sSe)} / ${pct(s.sPpv)}`],
      ['V Se / +P', `${pct(s.vSe)} / ${pct(s.vPpv)}`],
      ['Lipschitz cost per epoch', `${s.lipschitzSecondsPerEpoch.toFixed(2)} s`],
      ['backend', `${s.backend} (TF ${s.tfVersion}, ${s.threads} threads)`],
      ['report', path.join(s.outDir, 'report.json')],
    ])}\n`,
  );
}

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a ResNet on the beat stream: adaptive (Lipschitz-triggered growth) or vanilla')
    .addOption(
      new Option('--mode <mode>', 'adaptive or vanilla').choices(['adaptive', 'vanilla']).default('adaptive'),
    )
    .requiredOption('--out <dir>', 'output directory (checkpoints, model, report)')
    .option('--resume', 'continue from the newest checkpoint in --out');
  addTrainingOptions(cmd);
  addDataDirOption(cmd);
  addBrokersOption(cmd);
  addMetricsOptions(cmd);
  addObservabilityOptions(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: TrainFlags) => {
    const runtime = await loadTf({ prefer: resolveBackendPreference(flags.tfBackend) });
    log(`train: ${JSON.stringify(runtimeSummary(runtime))}`);
    const training = trainingConfigFrom(flags, flags.mode, [...SPECTROGRAM_INPUT_SHAPE] as [
      number,
      number,
      number,
    ]);
    log(`train: configuration ${JSON.stringify(training)}`);
    const dataDir = resolveDataDir(flags.dataDir);
    const brokers = resolveBrokers(flags.brokers);
    const bus = openBus(brokers, 'ecgflow-train');
    const topics = topicNames(flags.topicPrefix);
    const beatsTopic = beatsTopicFor(flags, training.beats);
    log(`train: on ${describeBus(bus, brokers)}, beat log ${beatsTopic}, events to ${topics.trainingEvents}`);
    const obs = await Observability.start(flags);
    obs.metrics.setTfBackend(runtime.backend, runtime.tfVersion);
    try {
      await prepareBeatLog(bus, { ...flags, beatsTopic }, dataDir, brokers, training.beats);
      const summary = await trainOnce(
        bus,
        {
          training,
          protocol: flags.protocol,
          beatsTopic,
          eventsTopic: topics.trainingEvents,
          deadLetterTopic: topics.deadLetter,
          outDir: path.resolve(flags.out),
          limitBeats: flags.limitBeats,
          shuffleCapacity: flags.shuffleBuffer,
          prefetchBatches: flags.prefetchBatches,
          spectrogramWorker: flags.spectrogramWorker,
          resume: flags.resume === true,
          validationSources: validationRecordsFrom(flags),
        },
        runtime,
        obs.metrics,
        obs.energy,
      );
      printTrainingSummary(summary);
      if (flags.json) printJson(summary);
    } catch (err) {
      obs.recordError('train', err);
      throw err;
    } finally {
      await bus.close();
      await obs.close();
    }
  });
}
