/**
 * `ecgflow ensemble --models A,B[,C...] --out DIR`: one classifier from several trained models, which
 * `serve` and `evaluate` then use like a single model (their class probabilities averaged:
 * src/model/ensemble.ts). The members are copied into DIR, so DIR moves as one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../../errors';
import { writeEnsemble } from '../../model/ensemble';
import { commonProtocol } from '../../model/provenance';
import { resolveModelDir } from '../../serving/modelManager';
import { log, printJson } from '../../util/output';
import { addJsonOption } from '../options';

interface Flags {
  models: string;
  out: string;
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('ensemble')
    .description(
      'combine trained models (model or `train --out` directories) into one classifier that averages their class probabilities',
    )
    .requiredOption('--models <list>', 'comma-separated model directories, at least two')
    .requiredOption('--out <dir>', 'new directory for the ensemble (must not exist or be empty)');
  addJsonOption(cmd);
  cmd.action((flags: Flags) => {
    const dirs = flags.models
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== '')
      .map((d) => resolveModelDir(d));
    if (dirs.length < 2) throw new ConfigError('--models needs at least two model directories', 'models');
    for (const d of dirs)
      if (!fs.existsSync(path.join(d, 'config.json')))
        throw new ConfigError(`no saved model in ${d} (expected config.json there or in model/)`, 'models');
    // Refused before anything is written when the members were trained under different protocols.
    const { protocol, unknown } = commonProtocol(dirs);
    const { configs } = writeEnsemble(dirs, path.resolve(flags.out), protocol);
    const depths = configs.map((c) => c.depth);
    log(
      `ensemble: ${depths.length} models (${depths.map((d) => `ResNet-${d}`).join(', ')}) in ${path.resolve(flags.out)}; serve and evaluate it with --model ${flags.out}`,
    );
    log(
      protocol === undefined
        ? `ensemble: training protocol not recorded (no run.json or report.json beside ${unknown.join(', ')}): evaluate cannot check that its test beats are unseen`
        : `ensemble: members trained under the ${protocol} protocol`,
    );
    if (flags.json)
      printJson({ out: path.resolve(flags.out), members: dirs, depths, protocol: protocol ?? null });
  });
}
