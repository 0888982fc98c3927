/**
 * Scoring live predictions against reference annotations, where they exist (replayed databases): each
 * prediction's R-peak is matched to the nearest reference beat within `matchWindowSeconds` (150 ms, as in
 * EC57 / bxb), one to one, in time order. Matched beats give the classification figures (accuracy,
 * confusion, per-class recall against the AAMI class of the reference label); unmatched reference beats
 * are missed detections, unmatched predictions extra ones. Repeated predictions of a beat (at-least-once
 * delivery) are counted once, by dedupKey. Live patients have no reference: this is for replays only.
 *
 * The classification figures can be kept to some of the matched beats (`isScored`): a model trained under
 * the intra-patient protocol has seen 80 % of every record's beats, so only its test beats say how it
 * classifies beats it has not seen. Detection counts every beat: the detector learnt nothing.
 * Detection Se / +P here pair whole records within the window; EC57's scoring (a 5-minute learning
 * period, bxb's pairing rules) is `ecgflow detect`'s (src/scoring/bxb.ts).
 */
import { AAMI_CLASSES, aamiClass, isBeat } from '../wfdb/labels';

export interface ReferenceBeatMark {
  sampleIndex: number;
  symbol: string;
}

export interface PredictedBeat {
  rPeakSampleIndex: number;
  predictedClass: string;
}

export interface LiveScore {
  referenceBeats: number;
  predictedBeats: number;
  matched: number;
  missed: number;
  extra: number;
  /** Matched beats whose class is scored (all of them unless an `isScored` left some out). */
  scored: number;
  correct: number;
  /** correct / scored (null when nothing was scored). */
  accuracy: number | null;
  /** Detection sensitivity matched / reference and positive predictivity matched / predicted. */
  detectionSe: number | null;
  detectionPpv: number | null;
  classes: string[];
  /** confusion[reference][predicted] over scored beats. */
  confusion: number[][];
  perClassRecall: Record<string, number | null>;
}

/** Match one source's predictions (deduplicated, any order) with its reference annotations. */
export function matchPredictions(
  reference: readonly ReferenceBeatMark[],
  predictions: readonly PredictedBeat[],
  sampleRateHz: number,
  matchWindowSeconds = 0.15,
): {
  pairs: { reference: ReferenceBeatMark; prediction: PredictedBeat }[];
  missed: number;
  extra: number;
  referenceBeats: number;
} {
  const window = Math.round(matchWindowSeconds * sampleRateHz);
  const refs = reference
    .filter((r) => isBeat(r.symbol) && aamiClass(r.symbol) !== undefined)
    .sort((a, b) => a.sampleIndex - b.sampleIndex);
  const preds = [...predictions].sort((a, b) => a.rPeakSampleIndex - b.rPeakSampleIndex);
  const pairs: { reference: ReferenceBeatMark; prediction: PredictedBeat }[] = [];
  const used = new Uint8Array(preds.length);
  let start = 0;
  for (const r of refs) {
    while (start < preds.length && preds[start].rPeakSampleIndex < r.sampleIndex - window) start++;
    let best = -1;
    let bestDistance = Infinity;
    for (let j = start; j < preds.length && preds[j].rPeakSampleIndex <= r.sampleIndex + window; j++) {
      if (used[j]) continue;
      const d = Math.abs(preds[j].rPeakSampleIndex - r.sampleIndex);
      if (d < bestDistance) {
        bestDistance = d;
        best = j;
      }
    }
    if (best >= 0) {
      used[best] = 1;
      pairs.push({ reference: r, prediction: preds[best] });
    }
  }
  return {
    pairs,
    missed: refs.length - pairs.length,
    extra: preds.length - pairs.length,
    referenceBeats: refs.length,
  };
}

/** Accumulates matches over sources into one score. */
export class LiveScorer {
  private readonly classes = [...AAMI_CLASSES] as string[];
  private readonly confusion = this.classes.map(() => this.classes.map(() => 0));
  private referenceBeats = 0;
  private predictedBeats = 0;
  private matched = 0;
  private missed = 0;
  private extra = 0;
  private scored = 0;
  private correct = 0;

  /**
   * One source's reference beats and predictions. `isScored(sampleIndex)` says which matched reference
   * beats enter the classification figures (default: all).
   */
  add(
    reference: readonly ReferenceBeatMark[],
    predictions: readonly PredictedBeat[],
    sampleRateHz: number,
    isScored: (referenceSampleIndex: number) => boolean = () => true,
  ): void {
    const result = matchPredictions(reference, predictions, sampleRateHz);
    this.referenceBeats += result.referenceBeats;
    this.predictedBeats += predictions.length;
    this.matched += result.pairs.length;
    this.missed += result.missed;
    this.extra += result.extra;
    for (const { reference: r, prediction: p } of result.pairs) {
      if (!isScored(r.sampleIndex)) continue;
      this.scored++;
      const truth = aamiClass(r.symbol) as string;
      const i = this.classes.indexOf(truth);
      const j = this.classes.indexOf(p.predictedClass);
      if (i >= 0 && j >= 0) this.confusion[i][j]++;
      if (truth === p.predictedClass) this.correct++;
    }
  }

  score(): LiveScore {
    const perClassRecall: Record<string, number | null> = {};
    this.classes.forEach((c, i) => {
      const support = this.confusion[i].reduce((a, b) => a + b, 0);
      perClassRecall[c] = support > 0 ? this.confusion[i][i] / support : null;
    });
    return {
      referenceBeats: this.referenceBeats,
      predictedBeats: this.predictedBeats,
      matched: this.matched,
      missed: this.missed,
      extra: this.extra,
      scored: this.scored,
      correct: this.correct,
      accuracy: this.scored > 0 ? this.correct / this.scored : null,
      detectionSe: this.referenceBeats > 0 ? this.matched / this.referenceBeats : null,
      detectionPpv: this.predictedBeats > 0 ? this.matched / this.predictedBeats : null,
      classes: [...this.classes],
      confusion: this.confusion.map((row) => [...row]),
      perClassRecall,
    };
  }
}

/** Quantiles of a growing set of values (latencies); exact, memory linear in the count. */
export class Quantiles {
  private values = new Float64Array(1024);
  private n = 0;
  private sorted = true;

  add(value: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = value;
    this.sorted = false;
  }

  get count(): number {
    return this.n;
  }

  /** The q-quantile (nearest rank), or null when empty. */
  quantile(q: number): number | null {
    if (this.n === 0) return null;
    if (!this.sorted) {
      this.values.subarray(0, this.n).sort();
      this.sorted = true;
    }
    const rank = Math.min(this.n - 1, Math.max(0, Math.ceil(q * this.n) - 1));
    return this.values[rank];
  }

  /** All values, sorted (for histograms). */
  all(): Float64Array {
    this.quantile(0.5);
    return this.values.slice(0, this.n);
  }
}
