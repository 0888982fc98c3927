/**
 * Output conventions shared by every command: human-readable progress goes to stderr so that stdout
 * stays machine-readable; with `--json` the last line of stdout is exactly one JSON object.
 */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Log a line to stderr (progress, configuration, warnings). */
export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Render rows as an aligned plain-text table. */
export function table(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths: number[] = [];
  for (const r of cells) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  // Figures line up on their last digit; a column holding sentences reads better from the left.
  const textColumn = widths.map(
    (_, i) => i === 0 || rows.slice(1).some((r) => r[i] !== undefined && !looksNumeric(r[i])),
  );
  return cells
    .map((r) => r.map((c, i) => (textColumn[i] ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .map((line) => line.trimEnd())
    .join('\n');
}

/** A number, or a figure written as text: "98.50", "1,234", "-12.5 %", "-" (no value). */
function looksNumeric(c: string | number): boolean {
  return typeof c === 'number' || /^(-|[-+]?[\d,]*\.?\d+ ?%?)$/.test(c.trim());
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** A duration for people: seconds under two minutes, minutes under two hours, hours beyond. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 120) return `${seconds.toFixed(0)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}
