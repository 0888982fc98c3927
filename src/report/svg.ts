/**
 * Small, dependency-free SVG charts for run reports: line charts (several series, linear axes with
 * "nice" ticks, a legend, vertical event markers such as growths) and a confusion-matrix heatmap. SVG is
 * the durable artefact; src/report/png.ts rasterises it when resvg is installed.
 */

export interface Series {
  name: string;
  /** A point with a non-finite coordinate is not drawn and breaks the line there (e.g. at a growth, where
   * the quantity belongs to another network on either side). */
  points: readonly [number, number][];
  color?: string;
  dashed?: boolean;
  /** Draw as a step function (e.g. depth over time). */
  step?: boolean;
}

export interface Marker {
  x: number;
  label: string;
  color?: string;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  markers?: readonly Marker[];
  width?: number;
  /** Height of the chart without the legend rows, which add to it. */
  height?: number;
  yMin?: number;
  yMax?: number;
  logY?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick positions covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  // Outermost ticks at or beyond the data, so nothing is drawn outside the axes.
  const ticks: number[] = [];
  const last = Math.ceil(max / step - 1e-9) * step;
  for (let t = Math.floor(min / step + 1e-9) * step; t <= last + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  if (a < 0.01) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 720;
  // The legend sits in rows under the x-axis label, so it never covers data or marker labels.
  const legendColumnPx = 230;
  const legendColumns = Math.max(1, Math.floor((width - 90) / legendColumnPx));
  const legendRows = Math.ceil(chart.series.length / legendColumns);
  const legendRowPx = 18;
  const height = (chart.height ?? 420) + legendRows * legendRowPx;
  const m = { left: 70, right: 20, top: 40, bottom: 55 + legendRows * legendRowPx };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const all = chart.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map((p) => p[0]).concat((chart.markers ?? []).map((mk) => mk.x));
  const tf = (y: number) => (chart.logY ? Math.log10(Math.max(y, 1e-12)) : y);
  const ys = all.map((p) => tf(p[1]));
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1);
  const yTicks = niceTicks(
    chart.yMin !== undefined ? tf(chart.yMin) : ys.length ? Math.min(...ys) : 0,
    chart.yMax !== undefined ? tf(chart.yMax) : ys.length ? Math.max(...ys) : 1,
  );
  const x0 = xTicks[0];
  const x1 = xTicks[xTicks.length - 1];
  const y0 = yTicks[0];
  const y1 = yTicks[yTicks.length - 1];
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0 || 1)) * pw;
  const sy = (y: number) => m.top + ph - ((tf(y) - y0) / (y1 - y0 || 1)) * ph;
  const syRaw = (t: number) => m.top + ph - ((t - y0) / (y1 - y0 || 1)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" ${FONT}>${escapeXml(chart.title)}</text>`,
  );
  for (const t of xTicks) {
    out.push(`<line x1="${sx(t)}" y1="${m.top}" x2="${sx(t)}" y2="${m.top + ph}" stroke="#eee"/>`);
    out.push(
      `<text x="${sx(t)}" y="${m.top + ph + 18}" text-anchor="middle" font-size="12" ${FONT}>${formatTick(t)}</text>`,
    );
  }
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" y1="${syRaw(t)}" x2="${m.left + pw}" y2="${syRaw(t)}" stroke="#eee"/>`);
    const label = chart.logY ? formatTick(10 ** t) : formatTick(t);
    out.push(
      `<text x="${m.left - 8}" y="${syRaw(t) + 4}" text-anchor="end" font-size="12" ${FONT}>${label}</text>`,
    );
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(
    `<text x="${m.left + pw / 2}" y="${m.top + ph + 43}" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(chart.xLabel)}</text>`,
  );
  out.push(
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 16 ${m.top + ph / 2})" ${FONT}>${escapeXml(chart.yLabel)}</text>`,
  );
  (chart.markers ?? []).forEach((mk, i) => {
    const x = sx(mk.x);
    out.push(
      `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="${mk.color ?? '#999'}" stroke-dasharray="4 3"/>`,
    );
    out.push(
      `<text x="${x + 3}" y="${m.top + 12 + (i % 3) * 13}" font-size="11" fill="${mk.color ?? '#666'}" ${FONT}>${escapeXml(mk.label)}</text>`,
    );
  });
  chart.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const finite = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (finite.length === 0) return;
    let d = '';
    let broken = true;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        broken = true;
        continue;
      }
      if (broken) d += `M${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      else if (s.step) d += `H${sx(x).toFixed(1)}V${sy(y).toFixed(1)}`;
      else d += `L${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      broken = false;
    }
    out.push(
      `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (finite.length <= 80)
      for (const [x, y] of finite)
        out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
  });
  chart.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const y = m.top + ph + 62 + Math.floor(i / legendColumns) * legendRowPx;
    const x = m.left + (i % legendColumns) * legendColumnPx;
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${x + 30}" y="${y + 4}" font-size="12" ${FONT}>${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** A confusion matrix as a heatmap: rows reference, columns predicted; cells show counts and row %. */
export function confusionMatrixSvg(
  title: string,
  classes: readonly string[],
  confusion: readonly (readonly number[])[],
): string {
  const cell = 78;
  const m = { left: 110, top: 70, right: 20, bottom: 60 };
  const k = classes.length;
  const width = m.left + k * cell + m.right;
  const height = m.top + k * cell + m.bottom;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" ${FONT}>${escapeXml(title)}</text>`,
  );
  out.push(
    `<text x="${m.left + (k * cell) / 2}" y="50" text-anchor="middle" font-size="13" ${FONT}>predicted</text>`,
  );
  out.push(
    `<text x="20" y="${m.top + (k * cell) / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 20 ${m.top + (k * cell) / 2})" ${FONT}>reference</text>`,
  );
  for (let r = 0; r < k; r++) {
    const rowTotal = confusion[r].reduce((a, b) => a + b, 0);
    out.push(
      `<text x="${m.left - 10}" y="${m.top + r * cell + cell / 2 + 5}" text-anchor="end" font-size="14" ${FONT}>${escapeXml(classes[r])} (${rowTotal})</text>`,
    );
    for (let c = 0; c < k; c++) {
      const v = confusion[r][c];
      const share = rowTotal > 0 ? v / rowTotal : 0;
      const shade = Math.round(255 - share * 200);
      const fill =
        r === c ? `rgb(${shade},${Math.round(255 - share * 120)},${shade})` : `rgb(255,${shade},${shade})`;
      const x = m.left + c * cell;
      const y = m.top + r * cell;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"/>`);
      out.push(
        `<text x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" font-size="14" ${FONT}>${v}</text>`,
      );
      out.push(
        `<text x="${x + cell / 2}" y="${y + cell / 2 + 16}" text-anchor="middle" font-size="11" fill="#444" ${FONT}>${(100 * share).toFixed(1)}%</text>`,
      );
    }
  }
  for (let c = 0; c < k; c++) {
    out.push(
      `<text x="${m.left + c * cell + cell / 2}" y="${m.top + k * cell + 20}" text-anchor="middle" font-size="14" ${FONT}>${escapeXml(classes[c])}</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}
