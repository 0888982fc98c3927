/**
 * The command-line contract: `--json` ends standard output with exactly one JSON object on one line,
 * exit codes say whether the command succeeded, and bad input gets a one-line typed error naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { resnetConfig } from '../../src/model/config';
import { DECISION_FILE } from '../../src/model/decision';
import { saveResNet } from '../../src/model/io';
import { ResNet } from '../../src/model/resnet';
import { loadTf } from '../../src/tf/backend';
import { featureCountOf } from '../../src/trainer/beatFeatures';
import { requireDataDir } from '../helpers/env';
import { scratchDir } from '../helpers/scratch';

const dataDir = requireDataDir();
const main = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');

function ecgflow(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, KAFKA_BROKERS: '', ...env },
    timeout: 120_000,
  });
  const lines = res.stdout.trimEnd().split('\n');
  return { status: res.status, stdout: res.stdout, stderr: res.stderr, last: lines[lines.length - 1] };
}

describe('ecgflow CLI', () => {
  it('data verify --json prints the whole-database counts', () => {
    const r = ecgflow(['data', 'verify', '--data-dir', dataDir, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.last) as Record<string, unknown>;
    assert.deepEqual(
      {
        records: json.records,
        signals: json.signals,
        annotations: json.annotations,
        beats: json.beats,
        checksumMismatches: json.checksumMismatches,
      },
      { records: 48, signals: 96, annotations: 112647, beats: 109494, checksumMismatches: 0 },
    );
  });

  it('replay --json on the embedded bus reports the summary fields', () => {
    const r = ecgflow(['replay', '--records', '100', '--speed', 'max', '--no-metrics', '--json'], {
      ECGFLOW_DATA_DIR: dataDir,
    });
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.last) as Record<string, number>;
    assert.deepEqual(Object.keys(json).sort(), [
      'messages',
      'records',
      'samples',
      'samplesPerSecond',
      'seconds',
    ]);
    assert.deepEqual([json.records, json.samples, json.messages], [1, 650000, Math.ceil(650000 / 360)]);
    assert.match(r.stderr, /embedded in-process bus/);
  });

  it('run (the main job) replays and consumes back every sample on the embedded bus', () => {
    // 101 is a DS1 record and 100 a DS2 one: the inter-patient protocol, trained on 101, serving 100.
    const r = ecgflow(['run', '--records', '100,101,102', '--no-metrics', '--json', '--data-dir', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.last) as Record<string, unknown>;
    assert.equal(json.complete, true);
    assert.equal(json.consumedSamples, 1_950_000);
    assert.deepEqual([json.lostSamples, json.duplicatedChunks, json.deadLetters], [0, 0, 0]);
    assert.match(r.stderr, /102: record 102 has no MLII/);
    assert.equal(json.protocol, 'inter');
    // The trained model serves with the prematurity rule, under a version that says so.
    assert.match(r.stderr, /run: prematurity rule: N -> S below 0\.85 of the local mean RR/);
    assert.match(r.stderr, /with model [^ ]+\+prem0\.85-0\.70/);
    assert.ok(fs.existsSync(path.join(json.modelDir as string, DECISION_FILE)));
    // Record 100 is a DS2 record: every matched beat is a test beat, and all of them are scored.
    assert.equal(json.liveScoredBeats, json.liveMatchedBeats);
    assert.ok((json.liveMatchedBeats as number) > 2200, `matched ${String(json.liveMatchedBeats)}`);
  });

  it('bad input: a missing record and a bad flag fail with one clear line', () => {
    const missing = ecgflow(['replay', '--records', '999', '--no-metrics', '--data-dir', dataDir]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /999\.hea/);
    const speed = ecgflow(['replay', '--speed', '-2', '--no-metrics', '--data-dir', dataDir]);
    assert.notEqual(speed.status, 0);
    assert.match(speed.stderr, /speed/);
    const brokers = ecgflow(['replay', '--brokers', 'nohostport', '--no-metrics', '--data-dir', dataDir]);
    assert.equal(brokers.status, 1);
    assert.match(brokers.stderr, /ConfigError.*broker "nohostport" is not host:port/);
  });

  it('decision adds and removes the prematurity rule, and refuses a model that cannot read it', async () => {
    await loadTf({ prefer: 'native' });
    const saved = async (featureCount: number) => {
      const dir = scratchDir('ecgflow-decision-cli-');
      const model = ResNet.create(resnetConfig({ depth: 8, featureCount }), { seed: 1 });
      await saveResNet(model, dir);
      model.dispose();
      return dir;
    };
    const dir = await saved(featureCountOf('rr-morphology-qrs-p'));
    const added = ecgflow(['decision', '--model', dir, '--prematurity', '--rr-ratio-below', '0.8', '--json']);
    assert.equal(added.status, 0, added.stderr);
    const json = JSON.parse(added.last) as { prematurityRule: unknown; version: string };
    assert.deepEqual(json.prematurityRule, { rrRatioBelow: 0.8, templateCorrelationAbove: 0.7 });
    assert.match(json.version, /^d8-[0-9a-f]{12}\+prem0\.80-0\.70$/);
    assert.ok(fs.existsSync(path.join(dir, DECISION_FILE)));

    const removed = ecgflow(['decision', '--model', dir, '--arg-max', '--json']);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match((JSON.parse(removed.last) as { version: string }).version, /^d8-[0-9a-f]{12}$/);
    assert.ok(!fs.existsSync(path.join(dir, DECISION_FILE)));

    const both = ecgflow(['decision', '--model', dir, '--prematurity', '--arg-max']);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /exactly one of --prematurity and --arg-max/);
    const boundsWithoutRule = ecgflow(['decision', '--model', dir, '--arg-max', '--rr-ratio-below', '0.8']);
    assert.equal(boundsWithoutRule.status, 1);
    assert.match(boundsWithoutRule.stderr, /bounds go with --prematurity/);
    const badBound = ecgflow(['decision', '--model', dir, '--prematurity', '--rr-ratio-below', '1.1']);
    assert.equal(badBound.status, 1);
    assert.match(badBound.stderr, /rrRatioBelow must be in \(0, 1\)/);

    const imageOnly = await saved(0);
    const refused = ecgflow(['decision', '--model', imageOnly, '--prematurity']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /ConfigError.*its features: none.*--features rr-morphology/);
    assert.ok(!fs.existsSync(path.join(imageOnly, DECISION_FILE)), 'nothing written');
  });
});
