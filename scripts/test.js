#!/usr/bin/env node
'use strict';
/**
 * `npm test`: build, start one local Kafka broker (unless KAFKA_BROKERS names one), run every compiled
 * test file with Node's test runner against it, stop the broker whatever happens, and exit with the test
 * runner's exit status.
 *
 *   node scripts/test.js           unit + integration tests, with a broker
 *   node scripts/test.js --unit    unit tests only (dist/test/unit), no broker
 *
 * Test files are listed explicitly rather than handing `dist/test/` to `node --test`: Node 20 runs every
 * .js file below a directory named `test` (helpers and fixtures included), and dist/ keeps compiled tests
 * whose sources were deleted. So the files run are exactly test/**\/*.test.ts, compiled.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BROKER_NAME = 'test';

function say(line) {
  process.stderr.write(`[test] ${line}\n`);
}

/** test/**\/*.test.ts relative to test/, mapped to their compiled dist/test/**\/*.test.js. */
function compiledTests(subdir) {
  const srcRoot = path.join(ROOT, 'test', subdir);
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.test.ts')) found.push(p);
    }
  };
  walk(srcRoot);
  const files = [];
  const missing = [];
  for (const src of found.sort()) {
    const rel = path.relative(ROOT, src).replace(/\.ts$/, '.js');
    const out = path.join('dist', rel);
    (fs.existsSync(path.join(ROOT, out)) ? files : missing).push(out);
  }
  return { files, missing };
}

function seconds(sinceMs) {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)} s`;
}

async function main() {
  const args = process.argv.slice(2);
  const unitOnly = args.includes('--unit');
  const unknown = args.filter((a) => a !== '--unit');
  if (unknown.length > 0) {
    say(`unknown argument(s): ${unknown.join(' ')} (usage: node scripts/test.js [--unit])`);
    return 2;
  }
  const t0 = Date.now();
  const summary = [];

  // A type error anywhere fails the run, but the tests still run on what tsc emitted so one sees both.
  const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const buildCode = build.status ?? 1;
  summary.push(buildCode === 0 ? 'build ok' : `build FAILED (tsc exit ${buildCode})`);

  const { files, missing } = compiledTests(unitOnly ? 'unit' : '');
  if (missing.length > 0) say(`not compiled (see tsc errors above): ${missing.join(', ')}`);
  if (files.length === 0) {
    say(`no test files under test/${unitOnly ? 'unit/' : ''}; ${summary.join(', ')}`);
    return buildCode;
  }

  let broker;
  let child;
  let interrupted;
  const onSignal = (signal) => {
    if (interrupted !== undefined) {
      // Second Ctrl-C: stop the broker synchronously and leave now.
      if (broker !== undefined && broker.started) {
        spawnSync('bash', [path.join(ROOT, 'scripts/kafka/broker.sh'), 'stop', '--name', broker.name], {
          cwd: ROOT,
          stdio: 'inherit',
        });
      }
      process.exit(130);
    }
    interrupted = signal;
    say(`${signal}: finishing up and stopping the broker (again to force)`);
    if (child !== undefined) child.kill(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The broker script's progress is shown while starting; while stopping it is held back and shown only if
  // stopping fails, so the test runner's summary stays at the end of the output (CI reads those lines).
  let holdBrokerLog = false;
  const heldBrokerLines = [];
  const brokerLog = (line) =>
    holdBrokerLog ? heldBrokerLines.push(line) : process.stderr.write(`${line}\n`);

  const env = { ...process.env };
  let testCode = 1;
  try {
    // Tests read real MIT-BIH signal. Without ECGFLOW_DATA_DIR they use the default data/mitdb and, on a
    // fresh machine, download it first (SHA-256 verified), so the README's test command works as is.
    if (env.ECGFLOW_DATA_DIR === undefined || env.ECGFLOW_DATA_DIR === '') {
      env.ECGFLOW_DATA_DIR = path.join(ROOT, 'data', 'mitdb');
      if (!fs.existsSync(path.join(env.ECGFLOW_DATA_DIR, 'RECORDS'))) {
        say(
          `ECGFLOW_DATA_DIR not set and ${env.ECGFLOW_DATA_DIR} is empty: downloading MIT-BIH from PhysioNet`,
        );
        const dl = spawnSync(
          process.execPath,
          ['dist/src/cli/main.js', 'data', 'download', '--data-dir', env.ECGFLOW_DATA_DIR],
          {
            cwd: ROOT,
            stdio: 'inherit',
          },
        );
        if (dl.status !== 0)
          throw new Error('download failed; set ECGFLOW_DATA_DIR to a local copy of MIT-BIH');
      }
    }
    summary.push(`data ${env.ECGFLOW_DATA_DIR}`);
    if (!unitOnly) {
      const tb = Date.now();
      // The compiled library, so the harness and the tests start brokers the same way.
      const { ensureBroker } = require(path.join(ROOT, 'dist/src/kafka/localBroker.js'));
      broker = await ensureBroker({ name: BROKER_NAME, env, log: brokerLog });
      env.KAFKA_BROKERS = broker.brokers.join(',');
      summary.push(
        broker.started
          ? `broker '${broker.name}' at ${env.KAFKA_BROKERS} (started in ${seconds(tb)})`
          : `broker ${env.KAFKA_BROKERS} from KAFKA_BROKERS`,
      );
    }
    if (interrupted !== undefined) throw new Error(`${interrupted} before the tests started`);

    const nodeArgs = ['--test', '--test-concurrency=1', ...files];
    say(`node ${nodeArgs.join(' ')}${env.KAFKA_BROKERS ? ` (KAFKA_BROKERS=${env.KAFKA_BROKERS})` : ''}`);
    testCode = await new Promise((resolve) => {
      child = spawn(process.execPath, nodeArgs, { cwd: ROOT, env, stdio: 'inherit' });
      child.on('error', (err) => {
        say(`cannot run node --test: ${err.message}`);
        resolve(1);
      });
      child.on('close', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 1)));
    });
    child = undefined;
    summary.push(`${files.length} test file(s), node --test exit ${testCode}`);
  } catch (err) {
    say(`error: ${err && err.message ? err.message : String(err)}`);
    summary.push('tests not run');
    testCode = 1;
  } finally {
    if (broker !== undefined && broker.started) {
      holdBrokerLog = true;
      try {
        await broker.stop();
      } catch (err) {
        for (const l of heldBrokerLines) process.stderr.write(`${l}\n`);
        say(`stopping broker '${broker.name}' failed: ${err.message}`);
        if (testCode === 0) testCode = 1;
      }
    }
  }
  say(`${summary.join(', ')}; ${seconds(t0)}`);
  if (interrupted !== undefined) return 128 + (interrupted === 'SIGINT' ? 2 : 15);
  return testCode !== 0 ? testCode : buildCode;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    say(`error: ${err && err.stack ? err.stack : String(err)}`);
    process.exit(1);
  },
);
