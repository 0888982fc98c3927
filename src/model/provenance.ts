/**
 * What a saved model was trained on, found beside it: the training run's `run.json` (written when the run
 * starts) or `report.json` (written when it ends) in the run's directory, for a model in one of the places
 * a run saves models: `<out>/model`, `<out>/model-best`, `<out>/checkpoints/<name>/model`.
 *
 * Why it matters: each protocol's test split is unseen only by models trained under that protocol. An
 * inter-patient model trained on all of DS1, scored on the intra-patient split (a fifth of every record's
 * beats, DS1's included), or an intra-patient model, trained on 72 % of DS2's beats, scored on DS2, would
 * report figures on beats it learnt. `evaluate` reads the protocol from here to default to it and to refuse
 * the other one; the subset (fraction, seed) so that a model trained with `--limit-beats` is scored on the
 * same deterministic subset of the test split it was trained beside.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, RunFileError } from '../errors';
import type { Protocol } from '../protocols/split';
import { isEnsembleDir, readEnsemble } from './ensemble';

export interface TrainingProvenance {
  /** The protocol whose training split the model learnt from; undefined when no file says so. */
  protocol: Protocol | undefined;
  /** The deterministic share of the beat log the run used (1: all of it). */
  fraction: number;
  /** The seed of that subset (the run's training seed). */
  seed: number;
  /** The directory holding the run's files. */
  runDir: string;
}

const RUN_FILE = 'run.json';
const REPORT_FILE = 'report.json';

/**
 * The directories that would be the model's training run, nearest first. Only the layouts a run writes:
 * an unrelated run.json further up (a model copied elsewhere) must not be taken for the model's.
 */
function candidateRunDirs(modelDir: string): string[] {
  const dir = path.resolve(modelDir);
  const parent = path.dirname(dir);
  const candidates = [dir];
  if (path.basename(dir) === 'model' || path.basename(dir) === 'model-best') candidates.push(parent);
  if (path.basename(dir) === 'model' && path.basename(path.dirname(parent)) === 'checkpoints')
    candidates.push(path.dirname(path.dirname(parent)));
  return candidates;
}

/** A run's JSON file (run.json, report.json) parsed: a RunFileError naming it when unreadable or not JSON. */
export function readRunJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    throw new RunFileError(`not readable JSON: ${(err as Error).message}`, { source: file }, err);
  }
}

function readJson(file: string): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  const value = readRunJson(file);
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>;
  throw new RunFileError('expected a JSON object', { source: file });
}

function protocolField(value: unknown, file: string): Protocol | undefined {
  if (value === undefined) return undefined;
  if (value === 'intra' || value === 'inter') return value;
  throw new RunFileError(`protocol must be "intra" or "inter", got ${JSON.stringify(value)}`, {
    source: file,
    field: 'protocol',
  });
}

/**
 * The training run of the model in `modelDir`, or undefined when it does not sit where a run saves its
 * models (a model copied out of its run). An ensemble's is the protocol its file records (its members
 * scored on the whole test split).
 */
export function findTrainingProvenance(modelDir: string): TrainingProvenance | undefined {
  if (isEnsembleDir(modelDir)) {
    const { protocol } = readEnsemble(modelDir);
    return { protocol, fraction: 1, seed: 1, runDir: path.resolve(modelDir) };
  }
  for (const dir of candidateRunDirs(modelDir)) {
    const runFile = path.join(dir, RUN_FILE);
    const reportFile = path.join(dir, REPORT_FILE);
    const run = readJson(runFile);
    const runProtocol = protocolField(run?.protocol, runFile);
    // report.json (large, written at the end) only for what a run.json from before they were recorded lacks.
    const report =
      run !== undefined && runProtocol !== undefined && typeof run.seed === 'number'
        ? undefined
        : readJson(reportFile);
    if (run === undefined && report === undefined) continue;
    const config = report?.config as { seed?: unknown } | undefined;
    const seed = typeof run?.seed === 'number' ? run.seed : config?.seed;
    return {
      protocol: runProtocol ?? protocolField(report?.protocol, reportFile),
      fraction: typeof run?.fraction === 'number' ? run.fraction : 1,
      seed: typeof seed === 'number' ? seed : 1,
      runDir: dir,
    };
  }
  return undefined;
}

/**
 * The one protocol that models about to form an ensemble were trained under: undefined when any of them
 * has no known protocol (listed in `unknown`), a ConfigError when two of them differ (an ensemble mixing
 * protocols has no test split unseen by all its members).
 */
export function commonProtocol(modelDirs: readonly string[]): {
  protocol: Protocol | undefined;
  unknown: string[];
} {
  const known = new Map<string, Protocol>();
  const unknown: string[] = [];
  for (const dir of modelDirs) {
    const protocol = findTrainingProvenance(dir)?.protocol;
    if (protocol === undefined) unknown.push(dir);
    else known.set(dir, protocol);
  }
  const protocols = new Set(known.values());
  if (protocols.size > 1)
    throw new ConfigError(
      `the models were trained under different protocols (${[...known].map(([d, p]) => `${d}: ${p}`).join(', ')}): no test split is unseen by all of them`,
      'models',
    );
  return { protocol: unknown.length === 0 ? [...protocols][0] : undefined, unknown };
}

/**
 * The protocol to score under: the one asked for, else the model's own, else intra. Asking for the other
 * protocol than the model was trained under is refused unless `crossProtocol`: its test split then holds
 * beats the model learnt (DS1's for an inter-patient model scored intra; 72 % of DS2's for an intra-patient
 * model scored inter), so the figures would not be test figures.
 */
export function evaluationProtocol(
  asked: Protocol | undefined,
  trainedUnder: Protocol | undefined,
  crossProtocol: boolean,
  modelDir: string,
): Protocol {
  const protocol = asked ?? trainedUnder ?? 'intra';
  if (trainedUnder !== undefined && protocol !== trainedUnder && !crossProtocol)
    throw new ConfigError(
      `${modelDir} was trained under the ${trainedUnder} protocol: the ${protocol} test split holds beats it trained on. Use --protocol ${trainedUnder}, or add --cross-protocol to score it anyway (an analysis, not a test result)`,
      'protocol',
    );
  return protocol;
}
