/**
 * scripts/bench/state.sh carries a benchmark's state between machines: it must keep everything a resume
 * reads (and nothing bulky it does not), and never restore over another state.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../../../src/util/projectRoot';
import { scratchDir } from '../../../helpers/scratch';

const SCRIPT = path.join(projectRoot(), 'scripts', 'bench', 'state.sh');

function state(...args: string[]) {
  return spawnSync('bash', [SCRIPT, ...args], { encoding: 'utf8' });
}

function write(file: string, text = 'x'): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** Every file below `dir`, relative to it, sorted. */
function files(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

/** A benchmark with a finished adaptive half and a vanilla half at its checkpoint after epoch 5. */
function benchmark(): string {
  const dir = scratchDir('ecgflow-bench-');
  write(path.join(dir, 'bench.json'), '{}');
  write(path.join(dir, 'sessions.json'), '{"sessions":[]}');
  const a = path.join(dir, 'adaptive');
  for (const f of [
    'report.json',
    'report/learning-curves.png',
    'model/weights.bin',
    'run.json',
    'energy.json',
  ])
    write(path.join(a, f));
  write(path.join(a, 'model-best', 'weights.bin'));
  write(path.join(a, 'checkpoints', 'LATEST'), 'epoch-0063\n');
  write(path.join(a, 'checkpoints', 'epoch-0063', 'state.json'), '{"state":{"nextEpoch":64}}');
  const v = path.join(dir, 'vanilla');
  for (const f of ['run.json', 'energy.json', 'best-validation.json', 'model-best/weights.bin', 'model/x'])
    write(path.join(v, f));
  write(path.join(v, 'checkpoints', 'LATEST'), 'epoch-0005\n');
  for (const e of ['epoch-0004', 'epoch-0005']) {
    write(path.join(v, 'checkpoints', e, 'state.json'), `{"state":{"nextEpoch":${Number(e.slice(6)) + 1}}}`);
    write(path.join(v, 'checkpoints', e, 'optimizer.bin'));
  }
  return dir;
}

describe('scripts/bench/state.sh', () => {
  it('saves a finished mode without checkpoints and an unfinished one with its newest checkpoint only', () => {
    const bench = benchmark();
    const saved = path.join(scratchDir('ecgflow-state-'), 'paper');
    const r = state('save', bench, saved);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /adaptive: finished; report, model and model-best kept/);
    assert.match(r.stderr, /vanilla: 6 epoch\(s\) done, newest checkpoint epoch-0005 kept/);
    assert.deepEqual(files(saved), [
      'adaptive/energy.json',
      'adaptive/model-best/weights.bin',
      'adaptive/model/weights.bin',
      'adaptive/report.json',
      'adaptive/report/learning-curves.png',
      'adaptive/run.json',
      'bench.json',
      'sessions.json',
      'vanilla/best-validation.json',
      'vanilla/checkpoints/LATEST',
      'vanilla/checkpoints/epoch-0005/optimizer.bin',
      'vanilla/checkpoints/epoch-0005/state.json',
      'vanilla/energy.json',
      'vanilla/model-best/weights.bin',
      'vanilla/run.json',
    ]);
    // Saving again replaces the old state rather than adding to it.
    fs.rmSync(path.join(bench, 'vanilla', 'model-best'), { recursive: true });
    assert.equal(state('save', bench, saved).status, 0);
    assert.ok(!fs.existsSync(path.join(saved, 'vanilla', 'model-best')));
  });

  it('restores into a new directory only', () => {
    const bench = benchmark();
    const saved = path.join(scratchDir('ecgflow-state-'), 'paper');
    assert.equal(state('save', bench, saved).status, 0);
    const restored = path.join(scratchDir('ecgflow-restored-'), 'bench');
    const r = state('restore', saved, restored);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(files(restored), files(saved));
    const again = state('restore', saved, restored);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /is not empty/);
  });

  it('refuses a copy while the benchmark writes, keeping the previous state', async () => {
    const bench = benchmark();
    const saved = path.join(scratchDir('ecgflow-state-'), 'paper');
    assert.equal(state('save', bench, saved).status, 0);
    const before = files(saved);
    // A writer rewriting the energy ledger without pause (a shell builtin, no process per write) for up to
    // 10 s, as a running benchmark would between two listings; the copy starts once it has begun.
    const ledger = path.join(bench, 'vanilla', 'energy.json');
    const writer = spawn('bash', [
      '-c',
      `end=$((SECONDS + 10)); : > "${ledger}"; echo ready; while [ $SECONDS -lt $end ]; do : > "${ledger}"; done`,
    ]);
    await new Promise((resolve) => writer.stdout.once('data', resolve));
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn('bash', [SCRIPT, 'save', bench, saved]);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    writer.kill();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /changed during the copy: the benchmark is still running/);
    assert.deepEqual(files(saved), before, 'the previous state is untouched');
    assert.deepEqual(fs.readdirSync(path.dirname(saved)), ['paper'], 'no temporary copy left beside it');
  });

  it('refuses a state directory inside the benchmark or around it', () => {
    const bench = benchmark();
    for (const [from, to] of [
      [bench, path.join(bench, 'state')],
      [path.join(bench, 'vanilla'), bench],
    ]) {
      const r = state('save', from, to);
      assert.notEqual(r.status, 0);
    }
    const inside = state('save', bench, path.join(bench, 'state'));
    assert.match(inside.stderr, /overlap/);
    assert.ok(!fs.existsSync(path.join(bench, 'state')));
    assert.ok(
      fs.existsSync(path.join(bench, 'vanilla', 'checkpoints', 'LATEST')),
      'the benchmark is untouched',
    );
  });

  it('refuses what is not a benchmark, a LATEST naming nothing, and bad usage', () => {
    const empty = scratchDir('ecgflow-bench-');
    const target = path.join(scratchDir('ecgflow-state-'), 'x');
    const notBench = state('save', empty, target);
    assert.equal(notBench.status, 1);
    assert.match(notBench.stderr, /no bench\.json/);
    assert.ok(!fs.existsSync(target), 'nothing written');

    const bench = benchmark();
    write(path.join(bench, 'vanilla', 'checkpoints', 'LATEST'), 'epoch-0009\n');
    const dangling = state('save', bench, target);
    assert.equal(dangling.status, 1);
    assert.match(dangling.stderr, /names 'epoch-0009', which is not a checkpoint directory/);
    assert.ok(!fs.existsSync(target), 'nothing written');

    assert.equal(state('carry', bench).status, 2);
  });
});
