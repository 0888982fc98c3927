/**
 * `ecgflow evaluate --model DIR --protocol intra|inter`: score a saved model on the protocol's test split
 * of the beat log: accuracy, macro-F1, per-class precision / recall / F1, the confusion matrix, and the
 * S and V sensitivity and positive predictivity that the inter-patient literature reports.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { collectExamples, type BeatLog } from '../../../pipelines/beatExamples';
import { beatProblem } from '../../beats/beatProblem';
import { describePreparation } from '../../beats/preparation';
import { DeadLetterWriter } from '../../bus/deadLetter';
import { describeBus, openBus } from '../../bus/factory';
import { BatchingSink } from '../../bus/sink';
import { topicNames } from '../../bus/topics';
import { resolveBrokers, resolveDataDir } from '../../config/settings';
import { ConfigError } from '../../errors';
import {
  confusionBySource,
  confusionMatrix,
  scoreConfusion,
  sensitivityAndPredictivity,
  sourceTableRows,
} from '../../evaluation/classification';
import { describeClassifier, loadClassifier } from '../../model/classifier';
import { ENSEMBLE_FILE, isEnsembleDir } from '../../model/ensemble';
import { evaluationProtocol, findTrainingProvenance, type TrainingProvenance } from '../../model/provenance';
import type { Protocol } from '../../protocols/split';
import { writePicture } from '../../report/png';
import { resolveModelDir } from '../../serving/modelManager';
import { confusionMatrixSvg } from '../../report/svg';
import { loadTf, resolveBackendPreference, runtimeSummary } from '../../tf/backend';
import { featureNamesOf, featureSetForCount } from '../../trainer/beatFeatures';
import { writePredictionList } from '../../evaluation/predictionList';
import { evaluateInference } from '../../trainer/evaluate';
import {
  applyPrematurityRule,
  describePrematurityRule,
  bindPrematurityRule,
} from '../../scoring/prematurityRule';
import { AAMI_CLASSES } from '../../wfdb/labels';
import { ExampleEncoder, type ExampleSet } from '../../trainer/examples';
import { log, printJson, table } from '../../util/output';
import { addBrokersOption, addDataDirOption, addJsonOption } from '../options';
import { beatsTopicFor, prepareBeatLog } from '../training';

interface Flags {
  model: string;
  protocol?: Protocol;
  crossProtocol?: boolean;
  records: string;
  beatsTopic?: string;
  topicPrefix: string;
  tfBackend?: string;
  dataDir?: string;
  brokers?: string;
  json?: boolean;
  predictions?: string;
}

/** A training output directory (with model/ and run.json) or a model directory itself. */
function modelLocation(dir: string): { modelDir: string; provenance: TrainingProvenance | undefined } {
  const resolved = path.resolve(dir);
  const modelDir = resolveModelDir(resolved);
  if (!fs.existsSync(path.join(modelDir, 'config.json')) && !isEnsembleDir(modelDir))
    throw new ConfigError(
      `no saved model in ${resolved} (expected config.json there or in model/, or an ensemble's ${ENSEMBLE_FILE})`,
      'model',
    );
  return { modelDir, provenance: findTrainingProvenance(modelDir) };
}

export function register(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description(
      'score a saved model on the test split of a protocol (accuracy, macro-F1, per class, confusion, S/V Se and +P)',
    )
    .requiredOption('--model <dir>', 'a model directory, or a `train --out` directory')
    .addOption(
      new Option(
        '--protocol <name>',
        "evaluation protocol (default: the one the model was trained under, from its run's run.json or report.json; intra when unknown)",
      ).choices(['intra', 'inter']),
    )
    .option(
      '--cross-protocol',
      "score under the other protocol than the model's: its test split then holds training beats (analysis only)",
    )
    .option('--records <list>', '"all" or record names to build the beat log from', 'all')
    .option(
      '--beats-topic <topic>',
      "existing beat log (default: <prefix>ecg.beats.<protocol>[.<form>-filtered] after the model's beat preparation, built when empty)",
    )
    .option('--topic-prefix <prefix>', 'prefix for every topic name', '')
    .option('--tf-backend <name>', 'auto, native, gpu or js')
    .option(
      '--predictions <file>',
      'also write one CSV line per test beat: source, R-peak sample, reference, predicted, each class probability p(N)..p(Q), the scalar features',
    );
  addDataDirOption(cmd);
  addBrokersOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (flags: Flags) => {
    const runtime = await loadTf({ prefer: resolveBackendPreference(flags.tfBackend) });
    const where = modelLocation(flags.model);
    const trainedUnder = where.provenance?.protocol;
    const protocol = evaluationProtocol(
      flags.protocol,
      trainedUnder,
      flags.crossProtocol === true,
      where.modelDir,
    );
    const options = { ...flags, protocol };
    // The deterministic subset the model was trained beside (`--limit-beats`), under its own protocol (or
    // one its run did not record).
    const subset =
      where.provenance !== undefined && (trainedUnder === undefined || protocol === trainedUnder)
        ? { fraction: where.provenance.fraction, seed: where.provenance.seed }
        : { fraction: 1, seed: 1 };
    const model = loadClassifier(where.modelDir);
    let featureSet: ReturnType<typeof featureSetForCount>;
    let prematurity: ReturnType<typeof bindPrematurityRule> | undefined;
    try {
      featureSet = featureSetForCount(model.featureCount);
      // A model whose decision rule cannot read its inputs is refused before any beat is built.
      prematurity =
        model.decision === undefined
          ? undefined
          : bindPrematurityRule(model.decision.prematurity, featureNamesOf(featureSet), AAMI_CLASSES);
    } catch (err) {
      model.inference.dispose();
      throw err;
    }
    log(
      `evaluate: ${where.modelDir} (${describeClassifier(model.depths)}, ${model.parameters} parameters, ${model.inference.engine} inference${prematurity === undefined ? '' : `, ${describePrematurityRule(prematurity.rule)}`}) on ${JSON.stringify(runtimeSummary(runtime))}`,
    );
    const dataDir = resolveDataDir(flags.dataDir);
    const brokers = resolveBrokers(flags.brokers);
    const bus = openBus(brokers, 'ecgflow-evaluate');
    const topics = topicNames(flags.topicPrefix);
    // Score on beats cut the way the model's training beats were (config.json `beats`).
    const beatsTopic = beatsTopicFor(options, model.beats);
    log(
      `evaluate: protocol ${protocol}, beat log ${beatsTopic} (beats ${describePreparation(model.beats)}) on ${describeBus(bus, brokers)}`,
    );
    if (trainedUnder === undefined)
      log(
        `evaluate: the model's training protocol is not recorded (no run.json or report.json of its run beside it): nothing checks that the ${protocol} test beats are unseen`,
      );
    else if (protocol !== trainedUnder)
      log(
        `evaluate: --cross-protocol: a ${trainedUnder}-protocol model scored on the ${protocol} test split, which holds beats it trained on`,
      );
    let deadLetterSink: BatchingSink | undefined;
    try {
      deadLetterSink = new BatchingSink(await bus.producer());
      await prepareBeatLog(bus, { ...options, beatsTopic }, dataDir, brokers, model.beats);
      await bus.ensureTopics([{ topic: topics.deadLetter, partitions: 1 }]);
      // The model's own head says which scalar features it takes (none for image-only models), its config
      // how they were capped.
      const encoder = new ExampleEncoder(187, {}, AAMI_CLASSES, featureSet, model.rrRatioMax);
      const beatLog: BeatLog = {
        bus,
        topic: beatsTopic,
        endOffsets: await bus.endOffsets(beatsTopic),
        fraction: subset.fraction,
        seed: subset.seed,
        deadLetters: new DeadLetterWriter(deadLetterSink, topics.deadLetter, 'evaluate'),
        deadLetterSink,
        heldOut: new Set(),
        validate: (beat) => beatProblem(beat, encoder.beatSamples),
      };
      const test = (
        await collectExamples(beatLog, `evaluate-${Date.now()}-${process.pid}`, encoder, new Set(['test']))
      ).sets.get('test') as ExampleSet;
      if (test.count === 0) throw new ConfigError(`no test beats in ${beatsTopic}`, 'protocol');
      const startMs = Date.now();
      const result = evaluateInference(model, test.images, test.labels, test.count, 100, test.features);
      const seconds = (Date.now() - startMs) / 1000;
      const calledS =
        prematurity === undefined || test.features === undefined
          ? 0
          : applyPrematurityRule(
              prematurity.rule,
              prematurity.inputs,
              result.predictions,
              test.features,
              test.count,
            );
      if (prematurity !== undefined)
        log(`evaluate: the prematurity rule called ${calledS} beats S that the network called N`);
      const report = scoreConfusion(
        confusionMatrix(test.labels, result.predictions, encoder.classes.length),
        encoder.classes,
      );
      const bySource = confusionBySource(
        test.labels,
        result.predictions,
        test.sources,
        test.sourceNames,
        encoder.classes.length,
      );
      const s = sensitivityAndPredictivity(report, 'S');
      const v = sensitivityAndPredictivity(report, 'V');
      const outDir = path.join(path.resolve(flags.model), `evaluation-${protocol}`);
      fs.mkdirSync(outDir, { recursive: true });
      const pictures = writePicture(
        path.join(outDir, 'confusion-matrix'),
        confusionMatrixSvg(
          `${protocol} test: accuracy ${(100 * report.accuracy).toFixed(2)} %, macro-F1 ${report.macroF1.toFixed(3)}`,
          report.classes,
          report.confusion,
        ),
      );
      const summary = {
        protocol,
        /** The protocol the model was trained under (null: not recorded beside it). */
        trainedUnder: trainedUnder ?? null,
        crossProtocol: trainedUnder !== undefined && protocol !== trainedUnder,
        model: where.modelDir,
        depth: Math.max(...model.depths),
        ensembleDepths: model.depths.length > 1 ? model.depths : undefined,
        beats: test.count,
        accuracy: report.accuracy,
        macroF1: report.macroF1,
        perClass: report.perClass,
        confusion: report.confusion,
        classes: report.classes,
        sSe: s.se,
        sPpv: s.ppv,
        vSe: v.se,
        vPpv: v.ppv,
        bySource,
        prematurityRule: prematurity?.rule ?? null,
        prematurityCalledS: prematurity === undefined ? null : calledS,
        loss: result.loss,
        beatsPerSecond: test.count / seconds,
        backend: runtime.backend,
        pictures,
      };
      fs.writeFileSync(path.join(outDir, 'evaluation.json'), JSON.stringify(summary, null, 1));
      if (flags.predictions !== undefined) {
        const written = writePredictionList(path.resolve(flags.predictions), {
          sources: test.sources,
          sourceNames: test.sourceNames,
          positions: test.positions,
          labels: test.labels,
          predictions: result.predictions,
          classes: encoder.classes,
          probabilities: result.probabilities,
          features: test.features,
          featureNames: featureNamesOf(encoder.featureSet),
        });
        log(`evaluate: ${written} beats listed in ${path.resolve(flags.predictions)}`);
      }
      const pct = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(2));
      process.stdout.write(`per record:\n${table(sourceTableRows(bySource, encoder.classes))}\n\n`);
      process.stdout.write(
        `${table([
          ['class', 'support', 'precision %', 'recall %', 'F1'],
          ...report.perClass.map((c) => [
            c.className,
            c.support,
            pct(c.precision),
            pct(c.recall),
            c.f1 === null ? '-' : c.f1.toFixed(4),
          ]),
        ])}\naccuracy ${pct(report.accuracy)} %, macro-F1 ${report.macroF1.toFixed(4)}; S Se/+P ${pct(s.se)}/${pct(s.ppv)} %, V Se/+P ${pct(v.se)}/${pct(v.ppv)} % on ${test.count} test beats\n`,
      );
      if (flags.json) printJson(summary);
    } finally {
      await deadLetterSink?.close();
      await bus.close();
      model.inference.dispose();
    }
  });
}
