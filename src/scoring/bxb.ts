/**
 * Beat-by-beat comparison of detected beats against reference annotations, as ANSI/AAMI EC57 and
 * WFDB's `bxb` define it for QRS detection:
 * - reference beats are the beat annotations (WFDB `isqrs`); everything else is ignored, except that
 *   ventricular flutter/fibrillation episodes (`[` ... `]`) are not scored: reference annotations inside
 *   them are skipped and detections inside them count neither way;
 * - the first `startSeconds` (5 minutes) are a learning period and are not scored, the end is the end of
 *   the record;
 * - a detection and a reference beat match when they are at most `matchWindowSeconds` (150 ms) apart;
 *   pairs are formed in time order, and a candidate pair is refused when the next annotation of either
 *   list is a closer partner (bxb's rules, including its 2002 amendment for two annotations in one window);
 * - unmatched reference beats are false negatives, unmatched detections false positives.
 * Gross statistics pool the counts over records: Se = TP / (TP + FN), +P = TP / (TP + FP),
 * DER = (FN + FP) / (TP + FN).
 */

export interface ReferenceMark {
  sampleIndex: number;
  symbol: string;
}

export interface BxbOptions {
  sampleRateHz: number;
  /** Record length in samples (the end of the test period); default: the last annotation or detection. */
  recordSamples?: number;
  /** Default 0.15 s. */
  matchWindowSeconds?: number;
  /** Default 300 s (5 minutes). */
  startSeconds?: number;
  /** Which reference symbols are beats. */
  isBeat: (symbol: string) => boolean;
}

export interface BeatMatchCounts {
  tp: number;
  fn: number;
  fp: number;
}

export interface BxbResult extends BeatMatchCounts {
  /** Sample indices of the missed reference beats and of the false detections (for inspection). */
  falseNegatives: number[];
  falsePositives: number[];
}

export interface DetectionScore extends BeatMatchCounts {
  /** Sensitivity TP / (TP + FN), in percent (null when undefined). */
  se: number | null;
  /** Positive predictivity TP / (TP + FP), in percent. */
  ppv: number | null;
  /** Detection error rate (FN + FP) / (TP + FN), in percent. */
  der: number | null;
}

const HUGE = 2 ** 52;

/** Compare one record's detections (sample indices) with its reference annotations. */
export function compareBeats(
  reference: readonly ReferenceMark[],
  detections: readonly number[],
  options: BxbOptions,
): BxbResult {
  const fs = options.sampleRateHz;
  const window = Math.round((options.matchWindowSeconds ?? 0.15) * fs);
  const start = Math.round((options.startSeconds ?? 300) * fs);

  const sortedRef = [...reference].sort((a, b) => a.sampleIndex - b.sampleIndex);
  const refBeats: number[] = [];
  const flutter: [number, number][] = [];
  let flutterStart: number | undefined;
  for (const a of sortedRef) {
    if (a.symbol === '[') {
      flutterStart ??= a.sampleIndex;
    } else if (a.symbol === ']') {
      if (flutterStart !== undefined) flutter.push([flutterStart, a.sampleIndex]);
      flutterStart = undefined;
    } else if (flutterStart === undefined && options.isBeat(a.symbol)) {
      refBeats.push(a.sampleIndex);
    }
  }
  if (flutterStart !== undefined) flutter.push([flutterStart, HUGE]);
  const test = [...detections].sort((a, b) => a - b);
  const end =
    options.recordSamples ?? Math.max(refBeats[refBeats.length - 1] ?? 0, test[test.length - 1] ?? 0, start);
  const inFlutter = (t: number) => flutter.some(([a, b]) => a <= t && t <= b);

  const result: BxbResult = { tp: 0, fn: 0, fp: 0, falseNegatives: [], falsePositives: [] };
  let ri = refBeats.findIndex((r) => r >= start);
  if (ri < 0) ri = refBeats.length;
  let ti = test.findIndex((t) => t >= start); // index of t' (the first test annotation in the test period)
  if (ti < 0) ti = test.length;
  const refAt = (i: number) => (i < refBeats.length ? refBeats[i] : HUGE);
  const testAt = (i: number) => (i >= 0 && i < test.length ? test[i] : i < 0 ? -HUGE : HUGE);

  // t = the last detection before the test period; it may pair with the first reference beat.
  let t = ti - 1;
  let r = ri;
  const pair = () => {
    result.tp++;
    r++;
    t++;
  };
  const missed = () => {
    result.fn++;
    result.falseNegatives.push(refAt(r));
    r++;
  };
  const extra = () => {
    const at = testAt(t);
    if (at >= start && !inFlutter(at)) {
      result.fp++;
      result.falsePositives.push(at);
    }
    t++;
  };

  {
    const T = refAt(r);
    const tt = testAt(t);
    if (T - tt < Math.abs(T - testAt(t + 1)) && T - tt <= window) {
      pair();
    } else {
      t++;
      if (testAt(t) - start <= window && Math.abs(T - testAt(t + 1)) < Math.abs(T - testAt(t))) t++;
    }
  }

  for (;;) {
    const T = refAt(r);
    const tt = testAt(t);
    if (!(T <= end || tt <= end)) break;
    const Tn = refAt(r + 1);
    const tn = testAt(t + 1);
    if (tt < T) {
      if (T - tt <= window && (T - tt < Math.abs(T - tn) || Math.abs(Tn - tn) < Math.abs(T - tn))) pair();
      else extra();
    } else if (tt - T <= window && (tt - T < Math.abs(tt - Tn) || Math.abs(tn - Tn) < Math.abs(tt - Tn))) {
      pair();
    } else {
      missed();
    }
  }
  return result;
}

/** Se, +P and DER (percent) from pooled counts. */
export function score(counts: BeatMatchCounts): DetectionScore {
  const pct = (a: number, b: number) => (b > 0 ? (100 * a) / b : null);
  return {
    tp: counts.tp,
    fn: counts.fn,
    fp: counts.fp,
    se: pct(counts.tp, counts.tp + counts.fn),
    ppv: pct(counts.tp, counts.tp + counts.fp),
    der: pct(counts.fn + counts.fp, counts.tp + counts.fn),
  };
}

/** Sum the counts of several records (gross statistics). */
export function pool(results: readonly BeatMatchCounts[]): BeatMatchCounts {
  const total = { tp: 0, fn: 0, fp: 0 };
  for (const r of results) {
    total.tp += r.tp;
    total.fn += r.fn;
    total.fp += r.fp;
  }
  return total;
}
