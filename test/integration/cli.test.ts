/**
 * The command-line contract: `--json` ends standard output with exactly one JSON object on one line,
 * exit codes say whether the command succeeded, and bad input gets a one-line typed error naming it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { requireDataDir } from '../helpers/env';

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
    const r = ecgflow(['run', '--records', '100,102', '--no-metrics', '--json', '--data-dir', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.last) as Record<string, unknown>;
    assert.equal(json.complete, true);
    assert.equal(json.consumedSamples, 1_300_000);
    assert.deepEqual([json.lostSamples, json.duplicatedChunks, json.deadLetters], [0, 0, 0]);
    assert.match(r.stderr, /102: record 102 has no MLII/);
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
});
