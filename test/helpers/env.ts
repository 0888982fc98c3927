/**
 * What tests need from the environment. The MIT-BIH directory is a setting (ECGFLOW_DATA_DIR; CI points
 * it at ../shared/data/mitdb): a test that needs real signal fails loudly without it, never skips.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function requireDataDir(): string {
  const dir = process.env.ECGFLOW_DATA_DIR;
  if (dir === undefined || dir === '') {
    throw new Error(
      'ECGFLOW_DATA_DIR is not set: point it at the MIT-BIH directory (CI uses ../shared/data/mitdb)',
    );
  }
  const resolved = path.resolve(dir);
  if (!fs.existsSync(path.join(resolved, '100.hea')))
    throw new Error(`ECGFLOW_DATA_DIR=${dir} holds no MIT-BIH record 100`);
  return resolved;
}

/** A topic prefix unique to this test process, so runs never see each other's data. */
export function uniquePrefix(name: string): string {
  return `it-${name}-${process.pid}-${Date.now()}.`;
}
