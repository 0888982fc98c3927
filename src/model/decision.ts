/**
 * How a model directory (one model or an ensemble) turns its class probabilities into a class, when that
 * is more than the arg-max: `decision.json` beside the model's own files.
 *   {"format": "ecgflow-decision", "formatVersion": 1,
 *    "prematurity": {"rrRatioBelow": 0.85, "templateCorrelationAbove": 0.7}}
 * The file belongs to the model: serve and evaluate both apply it, and it is part of the model version,
 * so predictions made with and without it are never attributed to the same version.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { validatePrematurityRule, type PrematurityRule } from '../scoring/prematurityRule';
import { writeFileAtomic } from '../util/atomicFile';
import { ModelFormatError, readVersionedJson } from './io';

export const DECISION_FORMAT = 'ecgflow-decision';
export const DECISION_FORMAT_VERSION = 1;
export const DECISION_FILE = 'decision.json';

export interface Decision {
  prematurity: PrematurityRule;
}

interface DecisionFile extends Decision {
  format: string;
  formatVersion: number;
}

/** The decision saved in `dir`, or undefined for a plain arg-max model. */
export function readDecision(dir: string): Decision | undefined {
  const file = path.join(dir, DECISION_FILE);
  if (!fs.existsSync(file)) return undefined;
  const saved = readVersionedJson<DecisionFile>(file, DECISION_FORMAT, DECISION_FORMAT_VERSION);
  const rule = saved.prematurity;
  if (typeof rule !== 'object' || rule === null)
    throw new ModelFormatError('no "prematurity" rule', { source: file, field: 'prematurity' });
  try {
    return { prematurity: validatePrematurityRule(rule) };
  } catch (err) {
    if (err instanceof ConfigError)
      throw new ModelFormatError(
        err.message,
        { source: file, field: `prematurity.${err.location.field}` },
        err,
      );
    throw err;
  }
}

/** Save (or, with undefined, remove) the decision of `dir`; written whole or not at all. */
export function writeDecision(dir: string, decision: Decision | undefined): void {
  const file = path.join(dir, DECISION_FILE);
  if (decision === undefined) {
    fs.rmSync(file, { force: true });
    return;
  }
  const body: DecisionFile = {
    format: DECISION_FORMAT,
    formatVersion: DECISION_FORMAT_VERSION,
    prematurity: validatePrematurityRule(decision.prematurity),
  };
  // A serve or evaluate starting meanwhile must read the old rule or the new one, never half a file.
  writeFileAtomic(file, `${JSON.stringify(body, null, 1)}\n`);
}

/**
 * A short tag for model versions: "+prem0.85-0.70" (empty without a decision). Two decimals where they
 * hold the bound exactly, all its digits otherwise ("+prem0.825-0.70"): rules that classify differently
 * never share a version.
 */
export function decisionTag(decision: Decision | undefined): string {
  if (decision === undefined) return '';
  const { rrRatioBelow, templateCorrelationAbove } = decision.prematurity;
  const bound = (x: number) => (Number(x.toFixed(2)) === x ? x.toFixed(2) : String(x));
  return `+prem${bound(rrRatioBelow)}-${bound(templateCorrelationAbove)}`;
}
