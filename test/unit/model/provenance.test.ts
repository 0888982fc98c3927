import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, RunFileError } from '../../../src/errors';
import { commonProtocol, evaluationProtocol, findTrainingProvenance } from '../../../src/model/provenance';
import { scratchDir } from '../../helpers/scratch';

/** A training output directory as `train --out` leaves it (model files are not read here). */
function run(files: { run?: object; report?: object }): string {
  const out = scratchDir('ecgflow-provenance-');
  for (const d of ['model', 'model-best', 'checkpoints/epoch-0003/model'])
    fs.mkdirSync(path.join(out, d), { recursive: true });
  if (files.run) fs.writeFileSync(path.join(out, 'run.json'), JSON.stringify(files.run));
  if (files.report) fs.writeFileSync(path.join(out, 'report.json'), JSON.stringify(files.report));
  return out;
}

describe('training provenance of a saved model', () => {
  it("finds the run's protocol and subset from each place a run saves models", () => {
    const out = run({ run: { runId: 'r', fraction: 0.25, protocol: 'inter', seed: 7 } });
    for (const dir of [out, 'model', 'model-best', 'checkpoints/epoch-0003/model']) {
      const found = findTrainingProvenance(path.resolve(out, dir));
      assert.deepEqual(found, { protocol: 'inter', fraction: 0.25, seed: 7, runDir: out }, dir);
    }
  });

  it('falls back on report.json for runs whose run.json predates the protocol', () => {
    const out = run({
      run: { runId: 'r', fraction: 1 },
      report: { protocol: 'intra', config: { seed: 3 } },
    });
    assert.deepEqual(findTrainingProvenance(path.join(out, 'model')), {
      protocol: 'intra',
      fraction: 1,
      seed: 3,
      runDir: out,
    });
    const unknown = run({ run: { runId: 'r', fraction: 0.5 } });
    assert.equal(findTrainingProvenance(path.join(unknown, 'model'))?.protocol, undefined);
  });

  it('does not take an unrelated run.json further up for the model', () => {
    const out = run({ run: { runId: 'r', fraction: 1, protocol: 'inter' } });
    // A model copied somewhere inside the run's directory, but not where a run saves one.
    const copied = path.join(out, 'copies', 'mine');
    fs.mkdirSync(copied, { recursive: true });
    assert.equal(findTrainingProvenance(copied), undefined);
    assert.equal(findTrainingProvenance(scratchDir('ecgflow-provenance-bare-')), undefined);
  });

  it('names the file of a bad protocol or bad JSON', () => {
    const bad = run({ run: { runId: 'r', fraction: 1, protocol: 'patient' } });
    assert.throws(
      () => findTrainingProvenance(path.join(bad, 'model')),
      (e: unknown) => e instanceof RunFileError && /run\.json/.test(e.message) && /"patient"/.test(e.message),
    );
    const broken = run({});
    fs.writeFileSync(path.join(broken, 'report.json'), '{"protocol": "in');
    assert.throws(() => findTrainingProvenance(path.join(broken, 'model')), RunFileError);
    // A run.json that says everything is enough: report.json is not read.
    fs.writeFileSync(
      path.join(broken, 'run.json'),
      JSON.stringify({ fraction: 1, protocol: 'intra', seed: 2 }),
    );
    assert.equal(findTrainingProvenance(path.join(broken, 'model'))?.protocol, 'intra');
  });

  it('an ensemble needs its members trained under one known protocol to record it', () => {
    const inter = [1, 2].map((seed) =>
      path.join(run({ run: { fraction: 1, protocol: 'inter', seed } }), 'model'),
    );
    const intra = path.join(run({ run: { fraction: 1, protocol: 'intra' } }), 'model');
    const unknown = path.join(run({ run: { fraction: 1 } }), 'model');
    assert.deepEqual(commonProtocol(inter), { protocol: 'inter', unknown: [] });
    assert.deepEqual(commonProtocol([...inter, unknown]), { protocol: undefined, unknown: [unknown] });
    assert.throws(
      () => commonProtocol([...inter, intra]),
      (e: unknown) =>
        e instanceof ConfigError && /different protocols/.test(e.message) && e.message.includes(intra),
    );
  });

  it('evaluate scores under the model protocol and refuses the other one unless asked to', () => {
    assert.equal(evaluationProtocol(undefined, 'inter', false, 'm'), 'inter');
    assert.equal(evaluationProtocol('inter', 'inter', false, 'm'), 'inter');
    assert.equal(evaluationProtocol(undefined, undefined, false, 'm'), 'intra', 'unknown: the default');
    assert.equal(evaluationProtocol('inter', undefined, false, 'm'), 'inter');
    assert.throws(
      () => evaluationProtocol('intra', 'inter', false, 'out/m'),
      (e: unknown) =>
        e instanceof ConfigError &&
        /out\/m was trained under the inter protocol: the intra test split holds beats it trained on/.test(
          e.message,
        ) &&
        /--cross-protocol/.test(e.message),
    );
    assert.equal(evaluationProtocol('intra', 'inter', true, 'm'), 'intra');
  });
});
