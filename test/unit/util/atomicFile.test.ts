import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { writeFileAtomic } from '../../../src/util/atomicFile';
import { scratchDir } from '../../helpers/scratch';

describe('atomic files', () => {
  it('writes, replaces and leaves no temporary file behind', () => {
    const dir = scratchDir('ecgflow-atomic-');
    const file = path.join(dir, 'nested', 'run.json');
    writeFileAtomic(file, '{"a": 1}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a": 1}');
    writeFileAtomic(file, '{"a": 2}');
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a": 2}');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['run.json']);
  });

  it('leaves the previous version when the new one cannot be put in place', () => {
    const dir = scratchDir('ecgflow-atomic-');
    const file = path.join(dir, 'report.json');
    writeFileAtomic(file, 'old');
    // A directory where the temporary file would go: the write fails before anything is renamed.
    fs.mkdirSync(`${file}.partial-${process.pid}`);
    assert.throws(() => writeFileAtomic(file, 'new'), /EISDIR/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'old');
  });
});
