/**
 * A QRS-width proxy from one beat: the span around the R-peak over which the signal's slope stays above a
 * fraction of its steepest slope there. The QRS complex is the only steep part of a (band-passed) beat, so
 * the span from the first to the last steep sample is about the complex's duration. A ventricular beat
 * spreads through the myocardium rather than the conduction system and is wide (>= 120 ms); a normal or
 * supraventricular beat is narrow (about 60-100 ms), unless the patient has a bundle branch block, which
 * is why the classifier also gets the width relative to the patient's own dominant beat
 * (src/dsp/beatTemplate.ts). It is a proxy, not a delineation: resolution is one sample (8 ms at 125 Hz)
 * and a steep noise spike inside the search span widens it, so it only feeds a learnt classifier.
 */

export interface QrsWidthConfig {
  /** How far either side of the R-peak the QRS is looked for (s). */
  searchSeconds: number;
  /** A sample is "steep" when |slope| is at least this fraction of the steepest slope in the span. */
  slopeFraction: number;
}

export const DEFAULT_QRS_WIDTH_CONFIG: Readonly<QrsWidthConfig> = Object.freeze({
  searchSeconds: 0.15,
  slopeFraction: 0.25,
});

/**
 * QRS width (s) of the beat whose R-peak is at `samples[rPeakOffset]`, or null when the span is flat
 * (no slope at all: a clipped or missing signal) or holds fewer than two samples. Where the beat starts
 * at the R-peak (Kachuee form) only the half after it is seen, so the value is about half the width.
 */
export function qrsWidthSeconds(
  samples: ArrayLike<number>,
  rPeakOffset: number,
  sampleRateHz: number,
  config: QrsWidthConfig = DEFAULT_QRS_WIDTH_CONFIG,
): number | null {
  if (!(sampleRateHz > 0)) throw new RangeError(`sample rate must be > 0, got ${sampleRateHz}`);
  const reach = Math.max(1, Math.round(config.searchSeconds * sampleRateHz));
  const from = Math.max(0, Math.min(samples.length - 1, rPeakOffset) - reach);
  const to = Math.min(samples.length - 1, rPeakOffset + reach);
  if (to - from < 1) return null;
  let steepest = 0;
  for (let i = from; i < to; i++) steepest = Math.max(steepest, Math.abs(samples[i + 1] - samples[i]));
  if (!(steepest > 0)) return null;
  const threshold = config.slopeFraction * steepest;
  let first = -1;
  let last = -1;
  for (let i = from; i < to; i++) {
    if (Math.abs(samples[i + 1] - samples[i]) >= threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  // Slopes are between samples i and i + 1, so steep slopes first..last span last + 1 - first intervals.
  return (last + 1 - first) / sampleRateHz;
}
