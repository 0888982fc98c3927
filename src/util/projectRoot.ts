import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/**
 * The directory holding ecgflow's package.json. Code runs compiled from `dist/`, so files shipped beside
 * the sources (schemas/, scripts/) are found from here rather than from the working directory.
 */
export function projectRoot(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      const name = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name;
      if (name === 'ecgflow') return (cached = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find ecgflow's package.json above ${__dirname}`);
    dir = parent;
  }
}
