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
