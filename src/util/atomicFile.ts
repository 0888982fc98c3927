/**
 * Files that other commands trust as complete (run.json, report.json, decision.json, ledgers) are written
 * under a temporary name beside their place and renamed into it: a rename within a directory is atomic, so
 * a kill or crash mid-write leaves the previous version or none, never a torn file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Write `text` to `file` atomically (creating its directory when missing). */
export function writeFileAtomic(file: string, text: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  try {
    fs.writeFileSync(partial, text);
    fs.renameSync(partial, file);
  } catch (err) {
    try {
      fs.rmSync(partial, { force: true });
    } catch {
      // Not ours to remove (or already gone): the write's own error is the one to report.
    }
    throw err;
  }
}
