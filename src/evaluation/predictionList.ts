/**
 * One line per scored beat, for error analysis: which beats of which record were called what, with the
 * class probabilities (to study operating points other than arg-max) and the scalar features the model
 * saw. CSV (RFC 4180; source names are quoted when they need it), written in chunks so a long test set
 * never sits in memory as one string.
 */
import * as fs from 'node:fs';

export interface PredictionListInput {
  /** Source index per beat (into `sourceNames`) and R-peak sample index in its source (-1: unknown). */
  sources: ArrayLike<number>;
  sourceNames: readonly string[];
  positions: ArrayLike<number>;
  labels: ArrayLike<number>;
  predictions: ArrayLike<number>;
  classes: readonly string[];
  /** Row-major [beats, classes.length] softmax probabilities. */
  probabilities: ArrayLike<number>;
  /** Row-major [beats, featureNames.length]. */
  features: ArrayLike<number>;
  featureNames: readonly string[];
}

/** Numbers to 4 decimals: enough to read a probability or a feature, and a short line. */
const fourDecimals = (v: number): string => String(Math.round(v * 1e4) / 1e4);

const csvField = (v: string): string => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The CSV lines (header first), generated lazily. */
export function* predictionListLines(input: PredictionListInput): Generator<string> {
  const f = input.featureNames.length;
  const n = input.labels.length;
  if (input.predictions.length !== n || input.sources.length !== n || input.positions.length !== n)
    throw new RangeError('labels, predictions, sources and positions must have one entry per beat');
  if (input.features.length !== n * f)
    throw new RangeError(`expected ${n * f} feature values, got ${input.features.length}`);
  const classCount = input.classes.length;
  if (input.probabilities.length !== n * classCount)
    throw new RangeError(`expected ${n * classCount} probabilities, got ${input.probabilities.length}`);
  yield [
    'source',
    'rPeakSampleIndex',
    'reference',
    'predicted',
    ...input.classes.map((c) => `p(${c})`),
    ...input.featureNames,
  ]
    .map(csvField)
    .join(',');
  for (let i = 0; i < n; i++) {
    const row = [
      csvField(input.sourceNames[input.sources[i]] ?? ''),
      String(input.positions[i]),
      input.classes[input.labels[i]],
      input.classes[input.predictions[i]],
    ];
    for (let c = 0; c < classCount; c++) row.push(fourDecimals(input.probabilities[i * classCount + c]));
    for (let k = 0; k < f; k++) row.push(fourDecimals(input.features[i * f + k]));
    yield row.join(',');
  }
}

/** Write the list to `file`, 1,000 lines per write. Returns the number of beats written. */
export function writePredictionList(file: string, input: PredictionListInput): number {
  const fd = fs.openSync(file, 'w');
  try {
    let chunk: string[] = [];
    for (const line of predictionListLines(input)) {
      chunk.push(line);
      if (chunk.length === 1000) {
        fs.writeSync(fd, `${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) fs.writeSync(fd, `${chunk.join('\n')}\n`);
  } finally {
    fs.closeSync(fd);
  }
  return input.labels.length;
}
