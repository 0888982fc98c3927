import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { atDirectory, checkResumedSettings } from '../../../src/bench/adaptiveVsVanilla';
import type { TrainingSummary } from '../../../src/cli/training';
import { ConfigError } from '../../../src/errors';
import { scratchDir } from '../../helpers/scratch';

const paper = {
  scale: 'paper',
  protocol: 'intra' as const,
  initialDepth: 20,
  finalDepth: 74,
  epochs: 64,
  limitBeats: null,
  records: 'all',
};

describe('bench adaptive-vs-vanilla --resume', () => {
  it('continues a benchmark started with the same settings, or a directory without any', () => {
    const dir = scratchDir('ecgflow-bench-resume-');
    const file = path.join(dir, 'bench.json');
    checkResumedSettings(file, paper);
    fs.writeFileSync(file, JSON.stringify(paper));
    checkResumedSettings(file, { ...paper });
  });

  it('refuses other settings, naming each difference', () => {
    const dir = scratchDir('ecgflow-bench-resume-');
    const file = path.join(dir, 'bench.json');
    fs.writeFileSync(file, JSON.stringify(paper));
    assert.throws(
      () => checkResumedSettings(file, { ...paper, epochs: 16, finalDepth: 50 }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message.includes('finalDepth 74 -> 50') &&
        err.message.includes('epochs 64 -> 16') &&
        err.message.includes(dir),
    );
  });

  it('refuses a settings file it cannot read, naming it', () => {
    const dir = scratchDir('ecgflow-bench-resume-');
    const file = path.join(dir, 'bench.json');
    fs.writeFileSync(file, '{"scale": "paper",');
    assert.throws(
      () => checkResumedSettings(file, paper),
      (err: unknown) =>
        err instanceof ConfigError && err.message.includes(file) && /not readable JSON/.test(err.message),
    );
  });
});

describe('a finished mode carried to another directory', () => {
  it('names its pictures under the new directory', () => {
    const old = path.join(path.sep, 'old', 'bench', 'adaptive');
    const moved = path.join(path.sep, 'new', 'bench', 'adaptive');
    const summary = {
      outDir: old,
      pictures: [path.join(old, 'report', 'learning-curves.png'), path.join(path.sep, 'elsewhere', 'x.png')],
      ppe: 1,
    } as unknown as TrainingSummary;
    const at = atDirectory(summary, moved);
    assert.equal(at.outDir, moved);
    assert.deepEqual(at.pictures, [
      path.join(moved, 'report', 'learning-curves.png'),
      path.join(path.sep, 'elsewhere', 'x.png'),
    ]);
    assert.equal(at.ppe, 1);
  });
});
