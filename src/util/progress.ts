/**
 * A small progress reporter for long commands. On a TTY it redraws one line; otherwise (CI, pipes) it
 * prints a line at most every `intervalMs` so logs stay readable. Always writes to stderr.
 */
export class Progress {
  private done = 0;
  private lastPrintMs = 0;
  private lastPrinted = -1;
  private readonly startMs = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit = '',
    private readonly intervalMs = 1000,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  tick(amount = 1): void {
    this.done += amount;
    const now = Date.now();
    if (now - this.lastPrintMs >= (this.tty ? 100 : this.intervalMs) || this.done >= this.total) {
      this.lastPrintMs = now;
      this.render(now);
    }
  }

  /** Set the absolute amount done (for callers that track a running total). */
  update(done: number): void {
    this.tick(done - this.done);
  }

  finish(): void {
    if (this.lastPrinted !== this.done) this.render(Date.now());
    if (this.tty) this.stream.write('\n');
  }

  private render(now: number): void {
    this.lastPrinted = this.done;
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const elapsedS = (now - this.startMs) / 1000;
    const etaS = fraction > 0 ? (elapsedS / fraction) * (1 - fraction) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const line = `${this.label} ${bar} ${(fraction * 100).toFixed(1)}% ${this.done}/${this.total}${this.unit} ${elapsedS.toFixed(1)}s eta ${etaS.toFixed(1)}s`;
    this.stream.write(this.tty ? `\r${line}` : `${line}\n`);
  }
}
