#!/usr/bin/env node
/**
 * The `ecgflow` command line. Each command lives in `src/cli/commands/<name>.ts` and registers itself on
 * the program; this file only wires them and turns errors into one clear line and a non-zero exit code.
 */
import { Command } from 'commander';
import { EcgflowError, describeError } from '../errors';
import { registerAll } from './commands';

async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('ecgflow')
    .description('Stream processing for ECG arrhythmia detection (Kafka, RxJS, adaptive ResNet training)')
    .showHelpAfterError()
    .exitOverride();
  registerAll(program);
  await program.parseAsync(argv);
}

main(process.argv).then(
  () => {
    // Kafka clients and HTTP servers are closed by each command; force exit in case a library keeps a timer.
    process.exitCode = process.exitCode ?? 0;
  },
  (err: unknown) => {
    const code = (err as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      process.exitCode = 2;
      return;
    }
    const kind = err instanceof EcgflowError ? `${err.name} [${err.code}]` : 'error';
    process.stderr.write(`ecgflow: ${kind}: ${describeError(err)}\n`);
    if (process.env.ECGFLOW_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  },
);
