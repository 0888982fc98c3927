/** Every CLI command, registered in the order `ecgflow --help` lists them. */
import type { Command } from 'commander';
import { register as beats } from './beats';
import { register as bench } from './bench';
import { register as decision } from './decision';
import { register as detect } from './detect';
import { register as ensemble } from './ensemble';
import { register as evaluate } from './evaluate';
import { register as info } from './info';
import { register as ingest } from './ingest';
import { register as replay } from './replay';
import { register as run } from './run';
import { register as serve } from './serve';
import { register as simulate } from './simulate';
import { register as train } from './train';
import { register as registerData } from './data';

type Register = (program: Command) => void;

const commands: Register[] = [
  run,
  registerData,
  replay,
  beats,
  detect,
  train,
  evaluate,
  ensemble,
  decision,
  serve,
  ingest,
  simulate,
  bench,
  info,
];

export function registerAll(program: Command): void {
  for (const register of commands) register(program);
}
