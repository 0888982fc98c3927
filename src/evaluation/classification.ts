/**
 * Classification scores from a confusion matrix (rows = reference class, columns = predicted class):
 * accuracy, per-class precision / recall / F1, macro-F1, and for the inter-patient protocol the
 * sensitivity (Se = recall) and positive predictivity (+P = precision) of the S and V classes, as the
 * ECG literature reports them. Classes with no reference and no predicted beats are left out of the
 * macro average (their F1 is undefined, not 0).
 */

export interface ClassScores {
  className: string;
  support: number;
  predicted: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

export interface ClassificationReport {
  classes: string[];
  /** confusion[reference][predicted] */
  confusion: number[][];
  total: number;
  accuracy: number;
  macroF1: number;
  perClass: ClassScores[];
}

export function confusionMatrix(
  reference: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses: number,
): number[][] {
  if (reference.length !== predicted.length)
    throw new RangeError(`${reference.length} references but ${predicted.length} predictions`);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < reference.length; i++) m[reference[i]][predicted[i]]++;
  return m;
}

export function scoreConfusion(confusion: number[][], classes: readonly string[]): ClassificationReport {
  const k = classes.length;
  let total = 0;
  let correct = 0;
  const perClass: ClassScores[] = [];
  for (let c = 0; c < k; c++) {
    const support = confusion[c].reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += confusion[r][c];
    const tp = confusion[c][c];
    total += support;
    correct += tp;
    const precision = predicted > 0 ? tp / predicted : null;
    const recall = support > 0 ? tp / support : null;
    const f1 =
      precision !== null && recall !== null
        ? precision + recall > 0
          ? (2 * precision * recall) / (precision + recall)
          : 0
        : support > 0 || predicted > 0
          ? 0
          : null;
    perClass.push({ className: classes[c], support, predicted, precision, recall, f1 });
  }
  const defined = perClass.filter((s) => s.f1 !== null);
  return {
    classes: [...classes],
    confusion: confusion.map((r) => [...r]),
    total,
    accuracy: total > 0 ? correct / total : 0,
    macroF1: defined.length > 0 ? defined.reduce((a, s) => a + (s.f1 ?? 0), 0) / defined.length : 0,
    perClass,
  };
}

/** Se and +P of one class, as fractions (null when undefined). */
export function sensitivityAndPredictivity(
  report: ClassificationReport,
  className: string,
): { se: number | null; ppv: number | null } {
  const s = report.perClass.find((c) => c.className === className);
  return { se: s?.recall ?? null, ppv: s?.precision ?? null };
}

/** The scores of one source (record, patient) within a test set. */
export interface SourceReport {
  source: string;
  beats: number;
  accuracy: number;
  /** confusion[reference][predicted] over this source's beats only. */
  confusion: number[][];
}

/**
 * Split a test set's scores by source: which patients the errors come from. Inter-patient errors are
 * rarely spread evenly (a few records with unusual normal beats produce most false ventricular calls),
 * and a pooled confusion matrix hides that. Sources are returned in name order.
 */
export function confusionBySource(
  reference: ArrayLike<number>,
  predicted: ArrayLike<number>,
  sourceIndex: ArrayLike<number>,
  sourceNames: readonly string[],
  numClasses: number,
): SourceReport[] {
  if (reference.length !== predicted.length || reference.length !== sourceIndex.length)
    throw new RangeError(
      `${reference.length} references, ${predicted.length} predictions and ${sourceIndex.length} source tags`,
    );
  const matrices = sourceNames.map(() =>
    Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0)),
  );
  for (let i = 0; i < reference.length; i++) {
    const s = sourceIndex[i];
    if (!(s >= 0 && s < sourceNames.length))
      throw new RangeError(`example ${i} has source index ${s}, outside 0..${sourceNames.length - 1}`);
    matrices[s][reference[i]][predicted[i]]++;
  }
  return sourceNames
    .map((source, s) => {
      const m = matrices[s];
      let beats = 0;
      let correct = 0;
      for (let r = 0; r < numClasses; r++)
        for (let c = 0; c < numClasses; c++) {
          beats += m[r][c];
          if (r === c) correct += m[r][c];
        }
      return { source, beats, accuracy: beats > 0 ? correct / beats : 0, confusion: m };
    })
    .filter((r) => r.beats > 0)
    .sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

/**
 * A table of per-source scores for people: beats, accuracy, and for S and V the Se, +P and the false
 * calls (beats of another class predicted as it), in percent; '-' where undefined.
 */
export function sourceTableRows(reports: readonly SourceReport[], classes: readonly string[]): string[][] {
  const pct = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(1));
  const header = ['source', 'beats', 'accuracy %'];
  const watched = ['S', 'V'].filter((c) => classes.includes(c));
  for (const c of watched) header.push(`${c} beats`, `${c} Se %`, `${c} +P %`, `false ${c}`);
  const rows = [header];
  for (const r of reports) {
    const scores = scoreConfusion(r.confusion, classes);
    const row = [r.source, String(r.beats), pct(r.accuracy)];
    for (const c of watched) {
      const s = scores.perClass[classes.indexOf(c)];
      const truePositives = r.confusion[classes.indexOf(c)][classes.indexOf(c)];
      row.push(String(s.support), pct(s.recall), pct(s.precision), String(s.predicted - truePositives));
    }
    rows.push(row);
  }
  return rows;
}
