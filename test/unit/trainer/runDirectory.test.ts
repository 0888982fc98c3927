import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { refuseFreshRunOver } from '../../../pipelines/train';
import { readTrainingReport } from '../../../src/cli/training';
import { ConfigError, RunFileError } from '../../../src/errors';
import { scratchDir } from '../../helpers/scratch';

describe("a training run's directory", () => {
  it('a fresh run starts only where no other run is, naming the one there', () => {
    const out = scratchDir('ecgflow-run-dir-');
    refuseFreshRunOver(out);
    refuseFreshRunOver(path.join(out, 'not-yet'));
    fs.writeFileSync(path.join(out, 'run.json'), JSON.stringify({ runId: 'adaptive-1-2' }));
    assert.throws(
      () => refuseFreshRunOver(out),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(`${out} holds run adaptive-1-2 (run.json): add --resume to continue it`),
    );
    fs.writeFileSync(path.join(out, 'run.json'), '{"runId": "ada');
    assert.throws(() => refuseFreshRunOver(out), /holds run \(run\.json\)/);
  });

  it("reading a run's report names the file when it is torn or not a report", () => {
    const out = scratchDir('ecgflow-run-dir-');
    const file = path.join(out, 'report.json');
    fs.writeFileSync(file, '{"runId": "x", "hist');
    assert.throws(
      () => readTrainingReport(file),
      (e: unknown) =>
        e instanceof RunFileError && e.message.includes(file) && /not readable JSON/.test(e.message),
    );
    fs.writeFileSync(file, 'null');
    assert.throws(() => readTrainingReport(file), /not a training report/);
    fs.writeFileSync(file, JSON.stringify({ runId: 'x', history: { nextEpoch: 3 }, config: {}, test: null }));
    const { summary, history } = readTrainingReport(file);
    assert.deepEqual([summary.runId, history.nextEpoch], ['x', 3]);
  });
});
