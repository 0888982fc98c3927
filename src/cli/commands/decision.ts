/**
 * `ecgflow decision --model DIR --prematurity [--rr-ratio-below R] [--template-correlation-above C]`: give
 * a model (or an ensemble) the prematurity rule after its arg-max (src/scoring/prematurityRule.ts), which
 * `serve` and `evaluate` then apply; `--arg-max` removes it. The rule is saved as DIR's decision.json and
 * changes DIR's model version. Refused for a model without the scalar features the rule reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../../errors';
import { writeDecision } from '../../model/decision';
import { ENSEMBLE_FILE, readEnsemble } from '../../model/ensemble';
import { readSavedConfig } from '../../model/io';
import {
  describePrematurityRule,
  PREMATURITY_RULE_DS1,
  prematurityInputs,
  validatePrematurityRule,
  type PrematurityRule,
} from '../../scoring/prematurityRule';
import { resolveModelDir, versionOfModelDir } from '../../serving/modelManager';
import { featureNamesOf, featureSetForCount } from '../../trainer/beatFeatures';
import { log, printJson } from '../../util/output';
import { AAMI_CLASSES } from '../../wfdb/labels';
import { addJsonOption } from '../options';

interface Flags {
  model: string;
  prematurity?: boolean;
  argMax?: boolean;
  rrRatioBelow?: number;
  templateCorrelationAbove?: number;
  json?: boolean;
}

/** The scalar feature count of the model or ensemble in `dir` (members read beats alike). */
function featureCountOf(dir: string): number {
  if (fs.existsSync(path.join(dir, ENSEMBLE_FILE))) return readEnsemble(dir).configs[0].featureCount ?? 0;
  if (fs.existsSync(path.join(dir, 'config.json'))) return readSavedConfig(dir).featureCount ?? 0;
  throw new ConfigError(
    `no saved model or ensemble in ${dir} (expected config.json or ensemble.json)`,
    'model',
  );
}

export function register(program: Command): void {
  const cmd = program
    .command('decision')
    .description(
      'set how a model turns probabilities into a class: the arg-max, or the arg-max then the prematurity rule (N -> S for early beats of normal shape)',
    )
    .requiredOption('--model <dir>', 'a model, ensemble or `train --out` directory')
    .option('--prematurity', `add the prematurity rule (bounds chosen on DS1 unless given below)`)
    .option(
      '--rr-ratio-below <r>',
      `premature below this fraction of the local mean RR (default ${PREMATURITY_RULE_DS1.rrRatioBelow})`,
      Number,
    )
    .option(
      '--template-correlation-above <c>',
      `normal shape above this template correlation (default ${PREMATURITY_RULE_DS1.templateCorrelationAbove})`,
      Number,
    )
    .option('--arg-max', 'remove the rule: the class is the arg-max again');
  addJsonOption(cmd);
  cmd.action((flags: Flags) => {
    if (flags.prematurity === flags.argMax)
      throw new ConfigError('give exactly one of --prematurity and --arg-max', 'decision');
    if (
      flags.argMax === true &&
      (flags.rrRatioBelow !== undefined || flags.templateCorrelationAbove !== undefined)
    )
      throw new ConfigError('the rule bounds go with --prematurity, not --arg-max', 'decision');
    const dir = resolveModelDir(flags.model);
    const featureNames = featureNamesOf(featureSetForCount(featureCountOf(dir)));
    let described: string;
    let rule: PrematurityRule | undefined;
    if (flags.prematurity === true) {
      rule = validatePrematurityRule({
        rrRatioBelow: flags.rrRatioBelow ?? PREMATURITY_RULE_DS1.rrRatioBelow,
        templateCorrelationAbove:
          flags.templateCorrelationAbove ?? PREMATURITY_RULE_DS1.templateCorrelationAbove,
      });
      prematurityInputs(featureNames, AAMI_CLASSES);
      writeDecision(dir, { prematurity: rule });
      described = describePrematurityRule(rule);
    } else {
      writeDecision(dir, undefined);
      described = 'arg-max';
    }
    const version = versionOfModelDir(dir);
    log(`decision: ${dir} now classifies by ${described}; model version ${version}`);
    if (flags.json) printJson({ model: dir, prematurityRule: rule ?? null, version });
  });
}
