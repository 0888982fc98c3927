/**
 * Training end to end: on the real broker, a beat log built from MIT-BIH feeds a short adaptive run whose
 * events (epochs, Lipschitz, growth, checkpoints) arrive on the events topic as Avro, whose model
 * `evaluate` scores exactly as the run's own test report; and a run killed with SIGKILL resumes from its
 * last checkpoint and finishes with every epoch trained exactly once.
 */
import { SEED_PAPER_PREPARATION } from '../../src/beats/preparation';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { beatsTopicFor, trainOnce } from '../../src/cli/training';
import { KafkaBus } from '../../src/bus/kafkaBus';
import { BatchingSink } from '../../src/bus/sink';
import type { Bus } from '../../src/bus/types';
import { topicNames } from '../../src/bus/topics';
import { ensureBroker, type LocalBroker } from '../../src/kafka/localBroker';
import { Metrics } from '../../src/metrics/registry';
import { loadResNet } from '../../src/model/io';
import { getCodecs } from '../../src/schemas/codec';
import { loadTf, resolveBackendPreference, type TfRuntime } from '../../src/tf/backend';
import { ConfigError } from '../../src/errors';
import { PAPER_TRAINING_CONFIG } from '../../src/trainer/config';
import { requireDataDir, uniquePrefix } from '../helpers/env';
import { beatLogOnBroker } from '../helpers/beatLog';
import { firstBatch } from '../helpers/firstBatch';
import { scratchDir } from '../helpers/scratch';
import { projectRoot } from '../../src/util/projectRoot';

const dataDir = requireDataDir();
const main = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');
let broker: LocalBroker;
let bus: KafkaBus;
let runtime: TfRuntime;
const created: string[] = [];

/**
 * SIGKILLs `child` as soon as the `LATEST` file beside the checkpoint directory `checkpoint` names it or a
 * later one (the directory is renamed into place before LATEST names it, so its existence alone would not
 * do); fails after `timeoutMs`.
 */
async function killAtCheckpoint(
  child: ChildProcess,
  checkpoint: string,
  timeoutMs: number,
  failure: string,
): Promise<void> {
  const latest = path.join(path.dirname(checkpoint), 'LATEST');
  const reached = () =>
    fs.existsSync(latest) && fs.readFileSync(latest, 'utf8').trim() >= path.basename(checkpoint);
  const deadline = Date.now() + timeoutMs;
  while (!reached()) {
    if (Date.now() > deadline || child.exitCode !== null) assert.fail(failure);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

/** CLI arguments for a command on the test broker, with its own topics, reading the test data. */
const onTheBroker = (prefix: string) => [
  '--topic-prefix',
  prefix,
  '--brokers',
  broker.brokers.join(','),
  '--data-dir',
  dataDir,
];

before(async () => {
  runtime = await loadTf({ prefer: resolveBackendPreference() });
  broker = await ensureBroker();
  bus = new KafkaBus({ brokers: broker.brokers, clientId: 'it-train' });
});

after(async () => {
  await bus?.deleteTopics(created).catch(() => undefined);
  await bus?.close();
  await broker?.stop();
});

describe('training on the beat stream', () => {
  it('publishes its events on Kafka and saves a model that evaluate scores the same way', async () => {
    const { prefix, topics, beatsTopic, beats } = await beatLogOnBroker(
      bus,
      {
        name: 'train',
        brokers: broker.brokers,
        dataDir,
        records: ['100', '119'],
        beats: SEED_PAPER_PREPARATION,
      },
      created,
    );
    assert.ok(beats > 3500, `beats built: ${beats}`);
    // Two beats Avro accepts but no model can take: another length, a NaN sample. They must reach the
    // dead-letter topic once each (not once per pass over the log) and not stop the run.
    const first = await firstBatch(bus, beatsTopic);
    const good = getCodecs().Beat.decode(first.messages[0].value);
    const badSink = new BatchingSink(await bus.producer());
    const bad = [
      { ...good, rPeakSampleIndex: 10_000_001, split: 'train', samples: good.samples.slice(0, 100) },
      {
        ...good,
        rPeakSampleIndex: 10_000_002,
        split: 'train',
        samples: good.samples.map((v, i) => (i === 5 ? Number.NaN : v)),
      },
    ];
    for (const b of bad)
      await badSink.write(beatsTopic, { key: b.sourceId, value: getCodecs().Beat.encode(b) });
    await badSink.close();
    const out = scratchDir('ecgflow-train-');
    const summary = await trainOnce(
      bus,
      {
        training: {
          ...PAPER_TRAINING_CONFIG,
          initialDepth: 14,
          finalDepth: 26,
          // Two epochs after the growth: one epoch of ~20 steps right after it sometimes leaves the batch-norm
          // running statistics of the grown network behind its weights (inference near chance while training
          // accuracy is 99 %); see the issue note.
          epochs: 4,
          window: 1,
          reserve: 2,
          lipschitzIterations: 5,
          batchSize: 64,
          features: 'rr-morphology-qrs',
          headHiddenUnits: 16,
          classWeighting: 'sqrt',
        },
        protocol: 'intra',
        beatsTopic,
        eventsTopic: topics.trainingEvents,
        deadLetterTopic: topics.deadLetter,
        outDir: out,
        limitBeats: 1600,
        shuffleCapacity: 1000,
        resume: false,
      },
      runtime,
      new Metrics({ defaultMetrics: false }),
    );
    // E=4, reserve 2, W=1: the reserve forces the growth at the end of epoch 1 (0-based).
    assert.deepEqual(summary.growthEpochs, [1]);
    const lettered = await firstBatch(bus, topics.deadLetter);
    assert.equal(
      (await bus.endOffsets(topics.deadLetter)).reduce((a, b) => a + b, 0),
      2,
      'each bad beat once over the 6 passes',
    );
    assert.deepEqual(
      lettered.messages.map((m) => {
        const d = getCodecs().DeadLetter.decode(m.value);
        return [d.stage, d.errorCode, d.reason.replace(/^.*: /, '')];
      }),
      [
        ['train', 'MESSAGE_VALIDATION', 'beat has 100 samples, expected 187'],
        ['train', 'MESSAGE_VALIDATION', 'sample 5 is NaN'],
      ],
    );
    assert.equal(summary.finalDepth, 26);
    assert.ok(summary.testAccuracy !== null && summary.testAccuracy > 0.5);
    assert.ok(fs.existsSync(path.join(out, 'report.json')));
    assert.ok(summary.pictures.some((p) => p.endsWith('learning-curves.svg')));
    const saved = loadResNet(path.join(out, 'model'));
    assert.equal(saved.depth, 26);
    assert.equal(saved.featureCount, 10, 'the beat-context features are part of the saved model');
    assert.equal(saved.config.headHiddenUnits, 16, 'the hidden head survives growth and saving');
    saved.dispose();
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as {
      config: { classWeights: number[] | null };
    };
    assert.equal(report.config.classWeights?.length, 5, 'class weights from the training split are reported');
    // The best validation epoch's model is kept beside the final one.
    assert.ok(summary.bestValidation !== null, 'intra has a validation split');
    assert.ok(summary.bestValidation.epoch >= 0 && summary.bestValidation.epoch < 4);
    const best = loadResNet(path.join(out, 'model-best'));
    assert.equal(best.depth, summary.bestValidation.depth);
    best.dispose();

    const batch = await firstBatch(bus, topics.trainingEvents);
    const kinds = batch.messages.map((m) => Object.keys(getCodecs().TrainingEvent.decode(m.value).event)[0]);
    const count = (k: string) => kinds.filter((x) => x === k).length;
    assert.deepEqual(
      [
        count('ecgflow.EpochSummary'),
        count('ecgflow.LipschitzEstimate'),
        count('ecgflow.Growth'),
        count('ecgflow.Checkpoint'),
      ],
      [4, 4, 1, 4],
      kinds.join(' '),
    );

    const evaluated = spawnSync(
      process.execPath,
      [
        main,
        'evaluate',
        '--model',
        out,
        // No --protocol: the one the model was trained under, from its run.json.
        '--beats-topic',
        beatsTopic,
        ...onTheBroker(prefix),
        '--predictions',
        path.join(out, 'predictions.csv'),
        '--json',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(evaluated.status, 0, evaluated.stderr);
    const lines = evaluated.stdout.trimEnd().split('\n');
    const json = JSON.parse(lines[lines.length - 1]) as {
      accuracy: number;
      beats: number;
      macroF1: number;
      protocol: string;
      trainedUnder: string;
      crossProtocol: boolean;
    };
    assert.deepEqual([json.protocol, json.trainedUnder, json.crossProtocol], ['intra', 'intra', false]);
    assert.equal(json.accuracy, summary.testAccuracy, "evaluate reproduces the run's own test accuracy");
    assert.equal(json.macroF1, summary.macroF1);
    // The per-beat list: one line per test beat, each at its R-peak in one of the two records.
    const listed = fs.readFileSync(path.join(out, 'predictions.csv'), 'utf8').trimEnd().split('\n').slice(1);
    assert.equal(listed.length, json.beats);
    for (const line of listed) {
      const [source, position, reference, predicted] = line.split(',');
      assert.ok(['100', '119'].includes(source), line);
      assert.ok(Number(position) >= 0 && Number(position) < 650_000, line);
      assert.ok(
        ['N', 'S', 'V', 'F', 'Q'].includes(reference) && ['N', 'S', 'V', 'F', 'Q'].includes(predicted),
        line,
      );
    }
    assert.equal(
      new Set(listed.map((l) => l.split(',').slice(0, 2).join(','))).size,
      listed.length,
      'each beat once',
    );

    // The other protocol's test split holds beats this model trained on: refused, naming the way out.
    const crossed = spawnSync(
      process.execPath,
      [
        main,
        'evaluate',
        '--model',
        path.join(out, 'model-best'),
        '--protocol',
        'inter',
        ...onTheBroker(prefix),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(crossed.status, 1, crossed.stderr);
    assert.match(
      crossed.stderr,
      /ConfigError.*was trained under the intra protocol: the inter test split holds beats it trained on/,
    );
    assert.match(crossed.stderr, /--cross-protocol/);

    // Patient-wise validation on a record the log does not hold is a typed error naming it, before training.
    await assert.rejects(
      trainOnce(
        bus,
        {
          training: { ...PAPER_TRAINING_CONFIG, initialDepth: 8, finalDepth: 8, mode: 'vanilla', epochs: 1 },
          protocol: 'intra',
          beatsTopic,
          eventsTopic: topics.trainingEvents,
          deadLetterTopic: topics.deadLetter,
          outDir: scratchDir('ecgflow-train-'),
          limitBeats: 200,
          shuffleCapacity: 100,
          resume: false,
          validationSources: ['119', '999'],
        },
        runtime,
        new Metrics({ defaultMetrics: false }),
      ),
      (err: Error) => err instanceof ConfigError && /record\(s\) 999 have no beats/.test(err.message),
    );
    // A resume under another protocol or seed than the run's (one killed before its first checkpoint:
    // nothing else to compare with) is refused before anything trains; so is a fresh run over it.
    const killedRun = scratchDir('ecgflow-train-');
    fs.writeFileSync(
      path.join(killedRun, 'run.json'),
      JSON.stringify({ runId: 'r', beatsTopic, endOffsets: [1], fraction: 1, protocol: 'inter', seed: 1 }),
    );
    const attempt = (protocol: 'intra' | 'inter', seed: number, resume: boolean) =>
      trainOnce(
        bus,
        {
          training: {
            ...PAPER_TRAINING_CONFIG,
            initialDepth: 8,
            finalDepth: 8,
            mode: 'vanilla',
            epochs: 1,
            seed,
          },
          protocol,
          beatsTopic,
          eventsTopic: topics.trainingEvents,
          deadLetterTopic: topics.deadLetter,
          outDir: killedRun,
          shuffleCapacity: 100,
          resume,
        },
        runtime,
        new Metrics({ defaultMetrics: false }),
      );
    await assert.rejects(
      attempt('intra', 1, true),
      (err: Error) =>
        err instanceof ConfigError &&
        /trains under the inter protocol, not intra: resume with --protocol inter/.test(err.message),
    );
    await assert.rejects(
      attempt('inter', 2, true),
      (err: Error) =>
        err instanceof ConfigError &&
        /was started with --seed 1, not 2: resume with --seed 1/.test(err.message),
    );
    await assert.rejects(
      attempt('inter', 1, false),
      (err: Error) =>
        err instanceof ConfigError && /holds run r \(run\.json\): add --resume/.test(err.message),
    );
    assert.deepEqual(fs.readdirSync(killedRun), ['run.json'], 'nothing written by the refused attempts');
  });

  it('two runs with the same seed on the same Kafka beat log train on the same batches', async () => {
    // The pass order is fixed by the log (src/bus/readLog.ts), not by how the fetches interleave the
    // partitions, so the seeded shuffle gives the same batches and the same losses, to the last bit.
    const log = await beatLogOnBroker(
      bus,
      {
        name: 'train-same',
        brokers: broker.brokers,
        dataDir,
        records: ['100', '101', '106'],
        beats: SEED_PAPER_PREPARATION,
      },
      created,
    );
    const ends = await bus.endOffsets(log.beatsTopic);
    assert.ok(ends.filter((n) => n > 0).length >= 2, `the log should span partitions: ${ends.join(',')}`);
    // The second run fetches 8 KiB per partition instead of 1 MiB: other batches, other interleavings.
    const smallFetches: Bus = Object.create(bus) as Bus;
    smallFetches.source = (options) => bus.source({ ...options, maxBytesPerPartition: 8192 });
    const run = async (on: Bus, spectrogramWorker: 'on' | 'off') => {
      const out = scratchDir('ecgflow-train-same-');
      await trainOnce(
        on,
        {
          training: {
            ...PAPER_TRAINING_CONFIG,
            initialDepth: 8,
            finalDepth: 8,
            mode: 'vanilla',
            epochs: 2,
            batchSize: 32,
            seed: 5,
          },
          ...log.run,
          outDir: out,
          limitBeats: 1500,
          shuffleCapacity: 300,
          spectrogramWorker,
          resume: false,
        },
        runtime,
        new Metrics({ defaultMetrics: false }),
      );
      const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as {
        history: { epochs: { trainLoss: number; validationLoss: number | null }[] };
        test: { accuracy: number; confusion: number[][] } | null;
      };
      return { epochs: report.history.epochs.map((e) => [e.trainLoss, e.validationLoss]), test: report.test };
    };
    const first = await run(bus, 'off');
    assert.equal(first.epochs.length, 2);
    assert.ok(first.test !== null);
    // ... and computes its spectrograms in the worker thread: the same images, in the same order.
    const second = await run(smallFetches, 'on');
    if (runtime.backend !== 'tensorflow-gpu') assert.deepEqual(second, first);
    else {
      // cuDNN's kernels are not deterministic by default: the same batches give close, not equal, losses.
      assert.equal(second.epochs.length, first.epochs.length);
      second.epochs.flat().forEach((loss, i) => {
        const expected = first.epochs.flat()[i] as number;
        assert.ok(
          Math.abs((loss as number) - expected) <= 1e-3 * Math.abs(expected),
          `loss ${i}: ${loss} vs ${expected}`,
        );
      });
    }
  });

  it('a run killed mid-training resumes from its last checkpoint and trains every epoch once', async () => {
    const out = scratchDir('ecgflow-resume-');
    const args = [
      main,
      'train',
      '--depth',
      '14,26',
      '--epochs',
      '6',
      '--window',
      '1',
      '--reserve',
      '2',
      '--r-tol',
      '1000',
      '--lipschitz-iterations',
      '5',
      '--batch-size',
      '64',
      '--limit-beats',
      '1200',
      '--records',
      '100,108', // one partition: their beats interleave differently in every in-process build
      '--out',
      out,
      '--no-metrics',
      // CPU kernels: the resumed losses are compared to the last bit with an uninterrupted run's, which
      // cuDNN's non-deterministic kernels would not give.
      '--tf-backend',
      'native',
      '--data-dir',
      dataDir,
    ];
    const env = { ...process.env, KAFKA_BROKERS: '' }; // the embedded bus: the beat log is rebuilt on resume
    const first = spawn(process.execPath, args, { env, stdio: 'ignore' });
    await killAtCheckpoint(
      first,
      path.join(out, 'checkpoints', 'epoch-0001'),
      180_000,
      'the first run never reached its second checkpoint',
    );
    assert.ok(!fs.existsSync(path.join(out, 'report.json')), 'killed before the end');

    // Resuming on beats cut another way would mix two inputs in one model: refused, nothing touched.
    const mixed = spawnSync(process.execPath, [...args, '--resume', '--beat-form', 'centred', '--filter'], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.notEqual(mixed.status, 0);
    assert.match(mixed.stderr, /kachuee, unfiltered, 125 Hz, not centred, filtered, 125 Hz.*--beat-form/);

    // So would continuing it under another seed (another shuffle order) or batch size, reported as the first.
    const reseeded = spawnSync(process.execPath, [...args, '--resume', '--seed', '2', '--batch-size', '32'], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.notEqual(reseeded.status, 0);
    assert.match(reseeded.stderr, /trained with other settings \(batchSize 64 -> 32, seed 1 -> 2\)/);

    const resumed = spawnSync(process.execPath, [...args, '--resume', '--json'], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resumed from .*epoch-000[1-5] at epoch [2-6]/);
    type Report = {
      history: {
        epochs: { epoch: number; trainLoss: number; validationLoss: number | null }[];
        growths: { epoch: number }[];
      };
      finalDepth: number;
    };
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    assert.deepEqual(
      report.history.epochs.map((e) => e.epoch),
      [0, 1, 2, 3, 4, 5],
      'every epoch once, in order',
    );
    // The same run without the kill: the resumed epochs trained on the same batches from the same state
    // (the rebuilt beat log is in canonical order), so every loss is equal to the last bit.
    const whole = scratchDir('ecgflow-resume-whole-');
    const uninterrupted = spawnSync(
      process.execPath,
      args.map((a) => (a === out ? whole : a)),
      {
        env,
        encoding: 'utf8',
        timeout: 300_000,
      },
    );
    assert.equal(uninterrupted.status, 0, uninterrupted.stderr);
    const losses = (r: Report) => r.history.epochs.map((e) => [e.trainLoss, e.validationLoss]);
    assert.deepEqual(
      losses(report),
      losses(JSON.parse(fs.readFileSync(path.join(whole, 'report.json'), 'utf8')) as Report),
    );
    // E=6, reserve 2, W=1, threshold out of reach: the growth is forced where E - e = 3.
    assert.deepEqual(
      report.history.growths.map((g) => g.epoch),
      [3],
    );
    assert.equal(report.finalDepth, 26);
    // Energy over both sessions: the ledger holds the cumulative energy at every checkpoint, and the report
    // adds the second session's energy to what the first had spent up to the checkpoint it resumed from.
    const resumedFrom = /resumed from .*(epoch-000\d)/.exec(resumed.stderr)?.[1] as string;
    const ledger = JSON.parse(fs.readFileSync(path.join(out, 'energy.json'), 'utf8')) as {
      checkpoints: Record<string, { energyKwh: number }>;
    };
    const kwh = (epoch: number) => ledger.checkpoints[`epoch-${String(epoch).padStart(4, '0')}`]?.energyKwh;
    for (let e = 0; e < 6; e++) assert.ok(kwh(e) > 0, `energy recorded with checkpoint ${e}`);
    for (let e = 1; e < 6; e++) assert.ok(kwh(e) > kwh(e - 1), `cumulative at checkpoint ${e}`);
    const { energyKwh } = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as {
      energyKwh: number;
    };
    assert.ok(
      energyKwh > ledger.checkpoints[resumedFrom].energyKwh,
      'the report counts the first session too',
    );
    assert.ok(energyKwh >= kwh(5), 'and at least what was recorded with the last checkpoint');
  });

  it('bench adaptive-vs-vanilla compares both modes on the same beats, a resumed finished benchmark trains nothing, a carried one trains the same epochs', async () => {
    const prefix = uniquePrefix('bench-avv');
    created.push(
      beatsTopicFor({ topicPrefix: prefix, protocol: 'intra' }),
      ...Object.values(topicNames(prefix)),
    );
    const out = scratchDir('ecgflow-bench-avv-');
    // Small scale (W 3, reserve 5) over 8 epochs: the growth is forced where E - e = reserve + 1, at e = 2,
    // before the threshold can fire (its reference is the first smoothed value, at e = 2).
    const args = [
      main,
      'bench',
      'adaptive-vs-vanilla',
      '--scale',
      'small',
      '--depth',
      '14,26',
      '--epochs',
      '8',
      '--limit-beats',
      '400',
      '--records',
      '100,119',
      ...onTheBroker(prefix),
      // CPU kernels: the carried run below is compared to the last bit with this one.
      '--tf-backend',
      'native',
      '--json',
    ];
    const first = spawnSync(process.execPath, [...args, '--out', out], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(first.status, 0, first.stderr);
    const lastJson = (stdout: string) => {
      const lines = stdout.trimEnd().split('\n');
      return JSON.parse(lines[lines.length - 1]) as {
        adaptive: Summary;
        vanilla: Summary;
        ppeRatio: number;
        wallRatio: number;
        wallRatioFastestEpochs: number;
        accuracyDelta: number;
        epochTimes: Record<
          'adaptive' | 'vanilla',
          { depth: number; epochs: number; fastestSeconds: number }[]
        >;
        pictures: string[];
        sessions: {
          epochsDoneAtStart: Record<'adaptive' | 'vanilla', number | 'finished'>;
          calibrationStepMs: number;
        }[];
        epochsBySession: Record<'adaptive' | 'vanilla', ({ first: number; last: number } | null)[]>;
      };
    };
    type Summary = {
      ppe: number;
      growthEpochs: number[];
      finalDepth: number;
      wallClockSeconds: number;
      testAccuracy: number;
      dataset: unknown;
    };
    const result = lastJson(first.stdout);
    // ResNet-14 has 174,645 parameters and ResNet-26 369,077 (the closed form): 3 epochs at 14, 5 at 26.
    assert.deepEqual(result.adaptive.growthEpochs, [2]);
    assert.deepEqual(result.vanilla.growthEpochs, []);
    assert.equal(result.adaptive.ppe, (3 * 174_645 + 5 * 369_077) / 8);
    assert.equal(result.vanilla.ppe, 369_077);
    assert.equal(result.ppeRatio, result.adaptive.ppe / result.vanilla.ppe);
    assert.deepEqual(result.adaptive.dataset, result.vanilla.dataset, 'the same beats and split');
    assert.equal(result.wallRatio, result.adaptive.wallClockSeconds / result.vanilla.wallClockSeconds);
    assert.equal(result.accuracyDelta, 100 * (result.adaptive.testAccuracy - result.vanilla.testAccuracy));
    assert.deepEqual(
      result.epochTimes.adaptive.map((t) => [t.depth, t.epochs]),
      [
        [14, 3],
        [26, 5],
      ],
    );
    assert.deepEqual(
      result.epochTimes.vanilla.map((t) => [t.depth, t.epochs]),
      [[26, 8]],
    );
    const fastest = (mode: 'adaptive' | 'vanilla') =>
      result.epochTimes[mode].reduce((sum, t) => sum + t.epochs * t.fastestSeconds, 0);
    assert.ok(Math.abs(result.wallRatioFastestEpochs - fastest('adaptive') / fastest('vanilla')) < 1e-12);
    for (const file of result.pictures) assert.ok(fs.statSync(file).size > 0, file);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'comparison.json'), 'utf8')), result);

    // Both modes finished: a resumed benchmark reads their reports instead of training again.
    const again = spawnSync(process.execPath, [...args, '--out', out, '--resume'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /adaptive finished in an earlier session/);
    assert.match(again.stderr, /vanilla finished in an earlier session/);
    assert.doesNotMatch(again.stderr, /epoch 1\/8/);
    const resumed = lastJson(again.stdout);
    const withoutSessions = (r: typeof result) => ({ ...r, pictures: [], sessions: [], epochsBySession: {} });
    assert.deepEqual(
      withoutSessions(resumed),
      withoutSessions(result),
      'the same comparison from the saved reports',
    );
    assert.deepEqual(
      result.sessions.map((s) => s.epochsDoneAtStart),
      [{ adaptive: 0, vanilla: 0 }],
    );
    assert.ok(result.sessions[0].calibrationStepMs > 0);
    assert.deepEqual(
      resumed.sessions.map((s) => s.epochsDoneAtStart),
      [
        { adaptive: 0, vanilla: 0 },
        { adaptive: 'finished', vanilla: 'finished' },
      ],
    );
    assert.deepEqual(resumed.epochsBySession, {
      adaptive: [{ first: 1, last: 8 }, null],
      vanilla: [{ first: 1, last: 8 }, null],
    });

    // Carried to another directory mid-run (scripts/bench/state.sh, as between two machines): a benchmark
    // killed in its adaptive half, saved, restored elsewhere and resumed trains the same epochs as the
    // uninterrupted one above.
    const killedOut = scratchDir('ecgflow-bench-avv-killed-');
    const killed = spawn(process.execPath, [...args, '--out', killedOut], { stdio: 'ignore' });
    await killAtCheckpoint(
      killed,
      path.join(killedOut, 'adaptive', 'checkpoints', 'epoch-0002'),
      240_000,
      'the benchmark never reached its third adaptive checkpoint',
    );
    const stateScript = path.join(projectRoot(), 'scripts', 'bench', 'state.sh');
    const state = path.join(scratchDir('ecgflow-bench-state-'), 'state');
    const carriedOut = path.join(scratchDir('ecgflow-bench-avv-carried-'), 'bench');
    for (const step of [
      ['save', killedOut, state],
      ['restore', state, carriedOut],
    ]) {
      const r = spawnSync('bash', [stateScript, ...step], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const kept = fs.readdirSync(path.join(state, 'adaptive', 'checkpoints')).sort();
    assert.equal(kept.length, 2, `LATEST and one checkpoint, not ${kept.join(', ')}`);
    const carried = spawnSync(process.execPath, [...args, '--out', carriedOut, '--resume'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(carried.status, 0, carried.stderr);
    const carriedResult = lastJson(carried.stdout);
    const losses = (dir: string, mode: string) =>
      (
        JSON.parse(fs.readFileSync(path.join(dir, mode, 'report.json'), 'utf8')) as {
          history: { epochs: { trainLoss: number; validationAccuracy: number }[] };
        }
      ).history.epochs.map((e) => [e.trainLoss, e.validationAccuracy]);
    for (const mode of ['adaptive', 'vanilla'])
      assert.deepEqual(losses(carriedOut, mode), losses(out, mode), `${mode}: the same epochs`);
    assert.equal(carriedResult.ppeRatio, result.ppeRatio);
    assert.equal(carriedResult.accuracyDelta, result.accuracyDelta);
    const doneAtStart = carriedResult.sessions.map((s) => s.epochsDoneAtStart);
    assert.equal(doneAtStart.length, 2);
    assert.deepEqual(doneAtStart[0], { adaptive: 0, vanilla: 0 });
    const resumedAfter = doneAtStart[1].adaptive as number;
    assert.ok(resumedAfter >= 3 && resumedAfter < 8, `resumed after adaptive epoch ${resumedAfter}`);
    assert.deepEqual(carriedResult.epochsBySession.adaptive, [
      { first: 1, last: resumedAfter },
      { first: resumedAfter + 1, last: 8 },
    ]);
    assert.deepEqual(carriedResult.epochsBySession.vanilla, [null, { first: 1, last: 8 }]);
  });
});
