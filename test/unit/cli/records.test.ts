import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { resolveRecords } from '../../../src/cli/options';
import { ConfigError } from '../../../src/errors';

describe('--records against the data directory', () => {
  it('"all" in a directory without WFDB headers is a typed error naming the setting, not an empty job', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecgflow-records-'));
    try {
      await assert.rejects(
        resolveRecords('all', dir),
        (e: unknown) =>
          e instanceof ConfigError &&
          e.location.field === 'data-dir' &&
          e.message.includes('ECGFLOW_DATA_DIR'),
      );
      fs.writeFileSync(path.join(dir, '100.hea'), '100 2 360 650000\n');
      assert.deepEqual(await resolveRecords('all', dir), ['100']);
      assert.deepEqual(await resolveRecords(' 101, 102 ', dir), ['101', '102']);
      await assert.rejects(resolveRecords(' , ', dir), /no records given/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
