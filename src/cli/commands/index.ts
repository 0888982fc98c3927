/** Every CLI command, registered in the order `ecgflow --help` lists them. */
import type { Command } from 'commander';

type Register = (program: Command) => void;

const commands: Register[] = [];

export function registerAll(program: Command): void {
  for (const register of commands) register(program);
}
