/**
 * The sessions of a long benchmark: a paper-scale comparison takes many hours and runs in several
 * sessions (`--resume`), possibly on different machines (scripts/bench/state.sh carries its state). Each
 * session appends one entry to `<out>/sessions.json`: the machine, the build, the epochs each mode had
 * finished when it started, and a calibration, the median time of a fixed training step on that machine.
 * Epoch times from two machines are only comparable through that calibration, so the comparison reports
 * which epochs ran where instead of hiding that behind one wall-clock total.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { resnetConfig } from '../model/config';
import { ResNet } from '../model/resnet';
import type { TfRuntime } from '../tf/backend';
import { writeFileAtomic } from '../util/atomicFile';
import { projectRoot } from '../util/projectRoot';
import { timeTraining } from './trainStep';

/** Epochs a mode had finished when a session started, or `finished` once its report existed. */
export type EpochsDone = number | 'finished';

export interface BenchSession {
  startedAt: string;
  host: string;
  cpuModel: string;
  logicalCpus: number;
  memoryGiB: number;
  backend: string;
  tfVersion: string | null;
  threads: number | null;
  /** `git describe` of the code that ran (null outside a git checkout); `-dirty` when it had local changes. */
  build: string | null;
  epochsDoneAtStart: { adaptive: EpochsDone; vanilla: EpochsDone };
  /**
   * Median milliseconds of 16 training steps of a ResNet-20 (batch 128, a fixed synthetic batch, after
   * three warm-up steps) at the session's start: the machine's training speed, measured the same way in
   * every session. A reading, not a correction: a neighbour busy at that moment inflates it.
   */
  calibrationStepMs: number;
}

export const CALIBRATION = { depth: 20, batch: 128, warmupSteps: 3, steps: 16 } as const;

/** The calibration step time on this machine and backend (the whole calibration takes about 4 s on a 2-core CPU). */
export function calibrationStepMs(): number {
  const model = ResNet.create(resnetConfig({ depth: CALIBRATION.depth }), { seed: 1 });
  try {
    const run = timeTraining(
      model,
      CALIBRATION.batch,
      CALIBRATION.warmupSteps,
      CALIBRATION.steps,
      Number.POSITIVE_INFINITY,
      'calibration',
    );
    return run.stepMs.median;
  } finally {
    model.dispose();
  }
}

/** This machine, backend and build, for a session entry. */
export function describeMachine(
  runtime: Pick<TfRuntime, 'backend' | 'tfVersion' | 'threads'>,
): Omit<BenchSession, 'startedAt' | 'epochsDoneAtStart' | 'calibrationStepMs'> {
  return {
    host: os.hostname(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    logicalCpus: os.cpus().length,
    memoryGiB: Math.round((10 * os.totalmem()) / 2 ** 30) / 10,
    backend: runtime.backend,
    tfVersion: runtime.tfVersion ?? null,
    threads: runtime.threads ?? null,
    build: gitDescribe(),
  };
}

function gitDescribe(): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], {
      cwd: projectRoot(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** The sessions recorded in `file` (none when it does not exist); a torn file is a ConfigError naming it. */
export function readSessions(file: string): BenchSession[] {
  if (!fs.existsSync(file)) return [];
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { sessions?: unknown };
    if (!Array.isArray(parsed.sessions)) throw new Error('no "sessions" list');
    const done = (d: unknown) => d === 'finished' || (Number.isInteger(d) && (d as number) >= 0);
    parsed.sessions.forEach((entry: Partial<BenchSession>, i) => {
      const start = entry?.epochsDoneAtStart;
      if (start === undefined || !done(start.adaptive) || !done(start.vanilla))
        throw new Error(`session ${i + 1} has no valid epochsDoneAtStart`);
    });
    return parsed.sessions as BenchSession[];
  } catch (err) {
    throw new ConfigError(`${file} is not a readable sessions file (${(err as Error).message})`, 'resume');
  }
}

/** Appends `session` to `file` (written atomically). */
export function appendSession(file: string, session: BenchSession): BenchSession[] {
  const sessions = [...readSessions(file), session];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify({ sessions }, null, 1)}\n`);
  return sessions;
}

/** Epochs first to last (1-based, inclusive) one session trained; null when it trained none. */
export type EpochRange = { first: number; last: number } | null;

/** Which epochs of one mode each session trained, given the mode's total epochs. */
export function epochsBySession(
  sessions: readonly BenchSession[],
  mode: 'adaptive' | 'vanilla',
  totalEpochs: number,
): EpochRange[] {
  const doneAt = (s: BenchSession): number => {
    const d = s.epochsDoneAtStart[mode];
    return d === 'finished' ? totalEpochs : d;
  };
  return sessions.map((s, i) => {
    const start = doneAt(s);
    const end = i + 1 < sessions.length ? doneAt(sessions[i + 1]) : totalEpochs;
    return end > start ? { first: start + 1, last: end } : null;
  });
}
