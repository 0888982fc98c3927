/**
 * Epoch times per depth, and a wall-clock estimate that load from other processes cannot inflate.
 *
 * A paper-scale comparison runs for many hours on a shared machine and across sessions, so some epochs
 * share the cores with other work and take up to several times longer. Every epoch at one depth does the
 * same work (same beats, same network), so the fastest epoch at a depth is the best estimate of that work
 * on an idle machine (the usual minimum-of-repeats rule of benchmarking); epochs x fastest, summed over
 * depths, estimates the run's wall clock without the interference. The measured wall clock stays the
 * primary figure; this one says how much of a ratio is the algorithm and how much the neighbours.
 */

export interface EpochTimes {
  depth: number;
  epochs: number;
  fastestSeconds: number;
  medianSeconds: number;
  totalSeconds: number;
}

/** Epoch seconds grouped by the depth that was trained, in order of first appearance. */
export function epochTimesByDepth(epochs: readonly { depth: number; seconds: number }[]): EpochTimes[] {
  const byDepth = new Map<number, number[]>();
  for (const e of epochs) {
    const list = byDepth.get(e.depth) ?? [];
    list.push(e.seconds);
    byDepth.set(e.depth, list);
  }
  return [...byDepth].map(([depth, seconds]) => {
    const sorted = [...seconds].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return {
      depth,
      epochs: sorted.length,
      fastestSeconds: sorted[0],
      medianSeconds: sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
      totalSeconds: sorted.reduce((a, b) => a + b, 0),
    };
  });
}

/** The run's epochs at each depth's fastest epoch time: its wall clock without interference. */
export function fastestEpochsSeconds(times: readonly EpochTimes[]): number {
  return times.reduce((sum, t) => sum + t.epochs * t.fastestSeconds, 0);
}
