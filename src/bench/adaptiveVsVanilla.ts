/**
 * `ecgflow bench adaptive-vs-vanilla --scale small|paper`: trains both modes on the same beat log, split
 * and seed, one after the other in one process, and compares them as the seed paper does: PPE, wall-clock
 * time and test accuracy (ratios adaptive / vanilla; accuracy difference in percentage points).
 *
 * `paper` is the full protocol (all beats, 64 epochs, W 10, reserve 20, depths 20,74 unless --depth).
 * `small` keeps the algorithm and shrinks the budget to run in minutes on 2 CPU cores: depths 14 -> 26 ->
 * 50 (two growths, as in the paper's 14,50 pair), about 6,000 beats, 16 epochs, W 3, reserve 5, 20 power
 * iterations per conv per epoch (warm-started).
 *
 * `--resume` continues a benchmark that was stopped (the paper scale takes many hours on a CPU): each mode
 * resumes from its newest checkpoint, a mode that finished is not trained again, and wall-clock time and
 * energy add up over the sessions (both are checkpointed). It refuses a directory benchmarked with other
 * settings. Every session is recorded in `<out>/sessions.json` (machine, build, epochs done at its start,
 * a calibration step time: src/bench/benchSessions.ts), and the comparison says which epochs ran where.
 */
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { describeBus, openBus } from '../bus/factory';
import { topicNames } from '../bus/topics';
import { resolveBrokers, resolveDataDir } from '../config/settings';
import { ConfigError } from '../errors';
import { Observability } from '../cli/observability';
import { SPECTROGRAM_INPUT_SHAPE } from '../model/config';
import type { Protocol } from '../protocols/split';
import { writeComparisonPicture } from '../report/trainingReport';
import { epochTimesByDepth, fastestEpochsSeconds, type EpochTimes } from './epochTimes';
import {
  appendSession,
  calibrationStepMs,
  describeMachine,
  epochsBySession,
  type BenchSession,
  type EpochRange,
  type EpochsDone,
} from './benchSessions';
import { checkpointEpochsDone, latestCheckpoint } from '../trainer/checkpoint';
import { loadTf, resolveBackendPreference, runtimeSummary } from '../tf/backend';
import { PAPER_TRAINING_CONFIG, parseDepthPair, type TrainingConfig } from '../trainer/config';
import { log, printJson, table } from '../util/output';
import { addBrokersOption, addDataDirOption, addJsonOption } from '../cli/options';
import {
  beatsTopicFor,
  describeDepths,
  prepareBeatLog,
  readTrainingReport,
  trainOnce,
  type TrainingSummary,
} from '../cli/training';
import * as fs from 'node:fs';

interface Flags {
  scale: 'small' | 'paper';
  protocol: Protocol;
  depth?: string;
  out: string;
  records: string;
  limitBeats?: number;
  epochs?: number;
  topicPrefix: string;
  tfBackend?: string;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
  resume?: boolean;
}

/** What must not change between the sessions of one benchmark (`<out>/bench.json`). */
interface BenchSettings {
  scale: string;
  protocol: Protocol;
  initialDepth: number;
  finalDepth: number;
  epochs: number;
  limitBeats: number | null;
  records: string;
}

/**
 * The settings a benchmark directory was started with, checked against this session's: a typed error
 * naming each difference (resuming would mix two benchmarks in one comparison).
 */
export function checkResumedSettings(file: string, settings: BenchSettings): void {
  if (!fs.existsSync(file)) return;
  let saved: Partial<BenchSettings>;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<BenchSettings>;
  } catch (err) {
    throw new ConfigError(
      `${file} is not readable JSON (${(err as Error).message}): cannot tell what the benchmark was started with; leave out --resume to start over`,
      'resume',
    );
  }
  const differences = (Object.keys(settings) as (keyof BenchSettings)[])
    .filter((k) => saved[k] !== settings[k])
    .map((k) => `${k} ${JSON.stringify(saved[k])} -> ${JSON.stringify(settings[k])}`);
  if (differences.length > 0)
    throw new ConfigError(
      `${path.dirname(file)} holds a benchmark started with other settings (${differences.join(', ')}): resume with the same flags, or leave out --resume to start over`,
      'resume',
    );
}

export const SMALL_SCALE: Partial<TrainingConfig> & { limitBeats?: number } = {
  initialDepth: 14,
  finalDepth: 50,
  epochs: 16,
  window: 3,
  reserve: 5,
  lipschitzIterations: 20,
  limitBeats: 6000,
};

export function register(bench: Command): void {
  const cmd = bench
    .command('adaptive-vs-vanilla')
    .description(
      'train adaptive and vanilla on the same data, split and seed; compare PPE, wall-clock and accuracy',
    )
    .addOption(
      new Option('--scale <scale>', 'small (minutes on 2 cores) or paper (the full protocol)')
        .choices(['small', 'paper'])
        .default('small'),
    )
    .addOption(
      new Option('--protocol <name>', 'evaluation protocol').choices(['intra', 'inter']).default('intra'),
    )
    .option('--depth <initial,final>', 'override the depth pair')
    .option('--epochs <n>', 'override the epochs', (v) => Number(v))
    .option('--limit-beats <n>', 'override the number of beats used', (v) => Number(v))
    .option('--out <dir>', 'where both runs and the comparison go', 'out/bench-adaptive-vs-vanilla')
    .option('--records <list>', '"all" or record names', 'all')
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '')
    .option('--tf-backend <name>', 'auto, native, gpu or js')
    .option(
      '--resume',
      'continue a stopped benchmark in --out: each mode from its newest checkpoint; a finished mode is kept',
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const result = await benchAdaptiveVsVanilla(flags);
    const row = (name: string, s: TrainingSummary) => [
      name,
      describeDepths(s, '->'),
      Math.round(s.ppe),
      Number((s.wallClockSeconds / 60).toFixed(2)),
      s.testAccuracy === null ? '-' : Number((100 * s.testAccuracy).toFixed(2)),
      s.macroF1 === null ? '-' : Number(s.macroF1.toFixed(4)),
      s.growthEpochs.map((e) => e + 1).join(',') || '-',
    ];
    process.stdout.write(
      `${table([
        ['mode', 'depth', 'PPE', 'minutes', 'test acc %', 'macro-F1', 'growth after epoch'],
        row('adaptive', result.adaptive),
        row('vanilla', result.vanilla),
      ])}\nPPE ratio ${result.ppeRatio.toFixed(3)} (target <= 0.60), wall-clock ratio ${result.wallRatio.toFixed(3)} (target <= 0.70; ${result.wallRatioFastestEpochs.toFixed(3)} with every epoch at its depth's fastest), accuracy delta ${result.accuracyDelta.toFixed(2)} points (target >= -0.3), energy ratio ${result.energyRatio?.toFixed(3) ?? '-'} (${result.energyMethod ?? 'no energy tracker'})\n`,
    );
    const depthRows = (mode: 'adaptive' | 'vanilla') =>
      result.epochTimes[mode].map((t) => [
        mode,
        t.depth,
        t.epochs,
        Number(t.fastestSeconds.toFixed(1)),
        Number(t.medianSeconds.toFixed(1)),
        Number(t.totalSeconds.toFixed(0)),
      ]);
    process.stdout.write(
      `${table([
        ['mode', 'depth', 'epochs', 'fastest epoch s', 'median epoch s', 'total s'],
        ...depthRows('adaptive'),
        ...depthRows('vanilla'),
      ])}
`,
    );
    const range = (r: EpochRange) => (r === null ? '-' : `${r.first}-${r.last}`);
    process.stdout.write(
      `${table([
        [
          'session',
          'started',
          'machine',
          'build',
          'calibration step ms',
          'adaptive epochs',
          'vanilla epochs',
        ],
        ...result.sessions.map((s, i) => [
          i + 1,
          s.startedAt,
          `${s.host} (${s.logicalCpus} x ${s.cpuModel})`,
          s.build ?? '-',
          Number(s.calibrationStepMs.toFixed(1)),
          range(result.epochsBySession.adaptive[i]),
          range(result.epochsBySession.vanilla[i]),
        ]),
      ])}
`,
    );
    if (flags.json) printJson(result);
  });
}

export interface ComparisonResult {
  scale: string;
  protocol: Protocol;
  backend: string;
  adaptive: TrainingSummary;
  vanilla: TrainingSummary;
  ppeRatio: number;
  wallRatio: number;
  /**
   * Wall-clock ratio with each mode's epochs timed at their depth's fastest epoch (src/bench/epochTimes.ts):
   * what the ratio would be without other load on the machine. Reported beside wallRatio, never instead.
   */
  wallRatioFastestEpochs: number;
  epochTimes: { adaptive: EpochTimes[]; vanilla: EpochTimes[] };
  accuracyDelta: number;
  /** Adaptive / vanilla energy and CO2eq (equal ratios: same PUE and carbon intensity). */
  energyRatio: number | null;
  co2Ratio: number | null;
  energyMethod: string | null;
  /** The sessions the benchmark ran in, and which epochs (1-based, inclusive) of each mode each one trained. */
  sessions: BenchSession[];
  epochsBySession: { adaptive: EpochRange[]; vanilla: EpochRange[] };
  pictures: string[];
}

async function benchAdaptiveVsVanilla(flags: Flags): Promise<ComparisonResult> {
  const runtime = await loadTf({ prefer: resolveBackendPreference(flags.tfBackend) });
  log(`bench adaptive-vs-vanilla: ${JSON.stringify(runtimeSummary(runtime))}`);
  if (!runtime.native)
    log('bench adaptive-vs-vanilla: WARNING: not on a native TensorFlow backend; this will take very long');
  const scale: Partial<TrainingConfig> & { limitBeats?: number } = flags.scale === 'small' ? SMALL_SCALE : {};
  const [initialDepth, finalDepth] =
    flags.depth !== undefined
      ? parseDepthPair(flags.depth)
      : [
          scale.initialDepth ?? PAPER_TRAINING_CONFIG.initialDepth,
          scale.finalDepth ?? PAPER_TRAINING_CONFIG.finalDepth,
        ];
  const base: TrainingConfig = {
    ...PAPER_TRAINING_CONFIG,
    ...scale,
    initialDepth,
    finalDepth,
    epochs: flags.epochs ?? scale.epochs ?? PAPER_TRAINING_CONFIG.epochs,
    inputShape: [...SPECTROGRAM_INPUT_SHAPE] as [number, number, number],
  };
  if ('limitBeats' in base) delete (base as Partial<{ limitBeats: number }>).limitBeats;
  const limitBeats = flags.limitBeats ?? scale.limitBeats;
  const dataDir = resolveDataDir(flags.dataDir);
  const brokers = resolveBrokers(flags.brokers);
  const bus = openBus(brokers, 'ecgflow-bench-training');
  const topics = topicNames(flags.topicPrefix);
  const beatsTopic = beatsTopicFor({ topicPrefix: flags.topicPrefix, protocol: flags.protocol });
  log(
    `bench adaptive-vs-vanilla: scale ${flags.scale}, ${initialDepth}->${finalDepth}, ${base.epochs} epochs, ${limitBeats ?? 'all'} beats, on ${describeBus(bus, brokers)}`,
  );
  // Energy per run, as the seed paper's Table III; no /metrics endpoint for a benchmark.
  const obs = await Observability.start({ metrics: false });
  const metrics = obs.metrics;
  const out = path.resolve(flags.out);
  const settings: BenchSettings = {
    scale: flags.scale,
    protocol: flags.protocol,
    initialDepth,
    finalDepth,
    epochs: base.epochs,
    limitBeats: limitBeats ?? null,
    records: flags.records,
  };
  const settingsFile = path.join(out, 'bench.json');
  if (flags.resume === true) checkResumedSettings(settingsFile, settings);
  else if (fs.existsSync(out)) fs.rmSync(out, { recursive: true });
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(settingsFile, `${JSON.stringify(settings, null, 1)}\n`);
  try {
    await prepareBeatLog(bus, { ...flags, beatsTopic }, dataDir, brokers);
    // Measured after the beat log is built, right before training, on the backend that trains.
    const calibration = calibrationStepMs();
    const session: BenchSession = {
      startedAt: new Date().toISOString(),
      ...describeMachine(runtime),
      epochsDoneAtStart: { adaptive: epochsDone(out, 'adaptive'), vanilla: epochsDone(out, 'vanilla') },
      calibrationStepMs: calibration,
    };
    const sessions = appendSession(path.join(out, 'sessions.json'), session);
    log(
      `bench adaptive-vs-vanilla: session ${sessions.length} on ${session.host} (${session.logicalCpus} x ${session.cpuModel}), build ${session.build ?? 'unknown'}, calibration ResNet-20 step ${calibration.toFixed(1)} ms; epochs done: adaptive ${session.epochsDoneAtStart.adaptive}, vanilla ${session.epochsDoneAtStart.vanilla}`,
    );
    const run = async (mode: 'adaptive' | 'vanilla'): Promise<TrainingSummary> => {
      // report.json is written when a mode has finished (and trained and tested its model).
      const finished = path.join(out, mode, 'report.json');
      if (flags.resume === true && fs.existsSync(finished)) {
        log(`bench adaptive-vs-vanilla: ${mode} finished in an earlier session (${finished})`);
        return atDirectory(readTrainingReport(finished).summary, path.join(out, mode));
      }
      return trainOnce(
        bus,
        {
          training: { ...base, mode },
          protocol: flags.protocol,
          beatsTopic,
          eventsTopic: topics.trainingEvents,
          deadLetterTopic: topics.deadLetter,
          outDir: path.join(out, mode),
          limitBeats,
          shuffleCapacity: 20_000,
          resume: flags.resume === true,
        },
        runtime,
        metrics,
        obs.energy,
      );
    };
    const adaptive = await run('adaptive');
    const vanilla = await run('vanilla');
    if (adaptive.testAccuracy === null || vanilla.testAccuracy === null)
      throw new ConfigError('no test beats: cannot compare accuracies', 'protocol');
    const history = (mode: string) => readTrainingReport(path.join(out, mode, 'report.json')).history;
    const adaptiveHistory = history('adaptive');
    const vanillaHistory = history('vanilla');
    const pictures = writeComparisonPicture(
      out,
      { mode: 'adaptive', state: adaptiveHistory, test: undefined },
      { mode: 'vanilla', state: vanillaHistory, test: undefined },
    );
    const epochTimes = {
      adaptive: epochTimesByDepth(adaptiveHistory.epochs),
      vanilla: epochTimesByDepth(vanillaHistory.epochs),
    };
    const result: ComparisonResult = {
      scale: flags.scale,
      protocol: flags.protocol,
      backend: runtime.backend,
      adaptive,
      vanilla,
      ppeRatio: adaptive.ppe / vanilla.ppe,
      wallRatio: adaptive.wallClockSeconds / vanilla.wallClockSeconds,
      wallRatioFastestEpochs:
        fastestEpochsSeconds(epochTimes.adaptive) / fastestEpochsSeconds(epochTimes.vanilla),
      epochTimes,
      accuracyDelta: 100 * (adaptive.testAccuracy - vanilla.testAccuracy),
      energyRatio:
        adaptive.energyKwh !== null && vanilla.energyKwh ? adaptive.energyKwh / vanilla.energyKwh : null,
      co2Ratio:
        adaptive.co2eqGrams !== null && vanilla.co2eqGrams ? adaptive.co2eqGrams / vanilla.co2eqGrams : null,
      energyMethod: adaptive.energyMethod,
      sessions,
      epochsBySession: {
        adaptive: epochsBySession(sessions, 'adaptive', adaptive.epochs),
        vanilla: epochsBySession(sessions, 'vanilla', vanilla.epochs),
      },
      pictures,
    };
    fs.writeFileSync(path.join(out, 'comparison.json'), JSON.stringify(result, null, 1));
    return result;
  } finally {
    await bus.close();
    await obs.close();
  }
}

/**
 * A finished mode's summary with its paths under `dir`: a benchmark carried to another directory or machine
 * (scripts/bench/state.sh) keeps the report's old absolute paths, which would name files not there.
 */
export function atDirectory(summary: TrainingSummary, dir: string): TrainingSummary {
  const from = summary.outDir;
  return {
    ...summary,
    outDir: dir,
    pictures: summary.pictures.map((p) =>
      p.startsWith(`${from}${path.sep}`) ? path.join(dir, p.slice(from.length + 1)) : p,
    ),
  };
}

/** How far a mode of the benchmark in `out` had come: `finished` once its report exists, else its checkpoint's epochs. */
function epochsDone(out: string, mode: 'adaptive' | 'vanilla'): EpochsDone {
  const dir = path.join(out, mode);
  if (fs.existsSync(path.join(dir, 'report.json'))) return 'finished';
  const checkpoint = latestCheckpoint(dir);
  return checkpoint === undefined ? 0 : checkpointEpochsDone(checkpoint);
}
