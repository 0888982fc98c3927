import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  appendSession,
  epochsBySession,
  readSessions,
  type BenchSession,
  type EpochsDone,
} from '../../../src/bench/benchSessions';
import { ConfigError } from '../../../src/errors';
import { scratchDir } from '../../helpers/scratch';

function session(adaptive: EpochsDone, vanilla: EpochsDone): BenchSession {
  return {
    startedAt: '2026-12-06T22:00:00.000Z',
    host: 'vm',
    cpuModel: 'cpu',
    logicalCpus: 2,
    memoryGiB: 23.5,
    backend: 'tensorflow',
    tfVersion: '2.21.0',
    threads: 2,
    build: 'abc1234',
    epochsDoneAtStart: { adaptive, vanilla },
    calibrationStepMs: 160,
  };
}

describe('benchmark sessions', () => {
  it('appends sessions to the file and reads them back in order', () => {
    const file = path.join(scratchDir('ecgflow-sessions-'), 'sessions.json');
    assert.deepEqual(readSessions(file), []);
    appendSession(file, session(0, 0));
    const all = appendSession(file, session(30, 0));
    assert.deepEqual(all, [session(0, 0), session(30, 0)]);
    assert.deepEqual(readSessions(file), all);
  });

  it('refuses a torn sessions file, naming it', () => {
    const file = path.join(scratchDir('ecgflow-sessions-'), 'sessions.json');
    for (const text of [
      '{"sessions": [',
      '{"other": 1}',
      '{"sessions": [{"startedAt": "x"}]}',
      '{"sessions": [{"epochsDoneAtStart": {"adaptive": -1, "vanilla": 0}}]}',
    ]) {
      fs.writeFileSync(file, text);
      assert.throws(
        () => readSessions(file),
        (err: unknown) => err instanceof ConfigError && err.message.includes(file),
      );
    }
  });

  it('says which epochs each session trained', () => {
    // Adaptive: 0 -> 30 in the first session, 30 -> 64 in the second; vanilla 0 -> 10 in the second,
    // nothing in a third killed before its first epoch, 10 -> 64 in the fourth.
    const sessions = [session(0, 0), session(30, 0), session('finished', 10), session('finished', 10)];
    assert.deepEqual(epochsBySession(sessions, 'adaptive', 64), [
      { first: 1, last: 30 },
      { first: 31, last: 64 },
      null,
      null,
    ]);
    assert.deepEqual(epochsBySession(sessions, 'vanilla', 64), [
      null,
      { first: 1, last: 10 },
      null,
      { first: 11, last: 64 },
    ]);
  });
});
