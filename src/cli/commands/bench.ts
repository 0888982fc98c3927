/**
 * `ecgflow bench <name>`: benchmarks are commands that print figures (never timed tests). Each benchmark
 * module registers its own subcommand here.
 */
import type { Command } from 'commander';
import { register as registerAdaptiveVsVanilla } from '../../bench/adaptiveVsVanilla';
import { register as registerMetricsOverhead } from '../../bench/metricsOverhead';
import { register as registerPreprocess } from '../../bench/preprocess';
import { register as registerReplay } from '../../bench/replay';
import { register as registerServe } from '../../bench/serve';
import { register as registerTrainStep } from '../../bench/trainStep';

const benchmarks: ((bench: Command) => void)[] = [
  registerReplay,
  registerTrainStep,
  registerMetricsOverhead,
  registerPreprocess,
  registerAdaptiveVsVanilla,
  registerServe,
];

export function register(program: Command): void {
  const bench = program
    .command('bench')
    .description('run a benchmark and print its figures (see docs/benchmarks.md)');
  for (const add of benchmarks) add(bench);
}
