/**
 * Write a chart as SVG, and as PNG next to it when the optional @resvg/resvg-js renderer is installed
 * (a prebuilt binary from npm; no system libraries). Text uses DejaVu Sans from the system fonts.
 */
import * as fs from 'node:fs';

interface ResvgModule {
  Resvg: new (svg: string, options: unknown) => { render(): { asPng(): Buffer } };
}

let renderer: ResvgModule | null | undefined;

function loadRenderer(): ResvgModule | null {
  if (renderer !== undefined) return renderer;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    renderer = require('@resvg/resvg-js') as ResvgModule;
  } catch {
    renderer = null;
  }
  return renderer;
}

/** Writes `<base>.svg` and, if possible, `<base>.png`; returns the files written. */
export function writePicture(base: string, svg: string): string[] {
  const files = [`${base}.svg`];
  fs.writeFileSync(files[0], svg);
  const r = loadRenderer();
  if (r !== null) {
    const png = new r.Resvg(svg, {
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
      background: 'white',
    })
      .render()
      .asPng();
    fs.writeFileSync(`${base}.png`, png);
    files.push(`${base}.png`);
  }
  return files;
}
