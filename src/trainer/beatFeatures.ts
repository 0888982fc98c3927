/**
 * Scalar features beside the spectrogram, fed to the ResNet's dense head (model config `featureCount`).
 * - `rr`: the beat's rhythm context from its RR intervals (src/dsp/rrIntervals.ts), as ratios to the
 *   patient's own averages so that they carry over between patients, plus the pre-RR in seconds for
 *   absolute rate;
 * - `rr-morphology`: those, plus how the beat's shape differs from the patient's own dominant beat
 *   (src/dsp/beatTemplate.ts): 1 - correlation and the relative RMS difference;
 * - `rr-morphology-qrs`: those, plus the QRS complex on its own: 1 - its correlation with the dominant
 *   beat's, its width (src/dsp/qrsWidth.ts) and its width relative to the dominant beat's. Width is what
 *   tells a ventricular beat; relative width keeps a bundle-branch-block patient's wide normal beats
 *   ordinary;
 * - `rr-morphology-qrs-p`: those, plus the P-wave span compared with the dominant beat's (1 - correlation,
 *   relative RMS difference): a ventricular beat has no P wave of its own. Needs beats that hold the span
 *   before the R-peak (the centred form).
 * Values are near 0 for an ordinary beat in a regular rhythm and clipped, so a missed detection cannot
 * produce an extreme input. The RR ratios are capped at `rrRatioMax` (RR_RATIO_MAX for new models; saved
 * with the model, because a model must read its inputs as it was trained): a compensatory pause after an
 * ectopic beat is at most about 1.7 times the patient's mean RR, and a longer pause (sinus arrest, block)
 * says nothing more about the beat before it. Uncapped, the head's weights extrapolate linearly: record
 * 232's atrial beats, followed by pauses of 2-3 mean RRs, were called ventricular although their shape
 * matched the patient's own beat.
 */
import { ConfigError } from '../errors';
import type { BeatRrIntervals, BeatTemplateComparison } from '../schemas/types';

export type BeatFeatureSet = 'none' | 'rr' | 'rr-morphology' | 'rr-morphology-qrs' | 'rr-morphology-qrs-p';

export const BEAT_FEATURE_SETS: readonly BeatFeatureSet[] = [
  'none',
  'rr',
  'rr-morphology',
  'rr-morphology-qrs',
  'rr-morphology-qrs-p',
];

/** The `rr` features in order (what each head input means; shown in reports). */
export const RR_FEATURE_NAMES: readonly string[] = [
  'preRr/longMean',
  'postRr/longMean',
  'localMean/longMean',
  'preRr/localMean',
  'preRr seconds',
];

/** The `rr-morphology` features after the `rr` ones. */
export const MORPHOLOGY_FEATURE_NAMES: readonly string[] = [
  '1 - template correlation',
  'relative RMS difference',
];

/** The `rr-morphology-qrs` features after the `rr-morphology` ones. */
export const QRS_FEATURE_NAMES: readonly string[] = [
  '1 - QRS correlation',
  'QRS width / 100 ms - 1',
  'QRS width / template QRS width - 1',
];

/** The `rr-morphology-qrs-p` features after the `rr-morphology-qrs` ones. */
export const P_WAVE_FEATURE_NAMES: readonly string[] = [
  '1 - P-wave correlation',
  'P-wave relative RMS difference',
];

/** What a beat offers to the feature sets (the beats topic's v2 fields; null for older beats). */
export interface BeatContext {
  rr: BeatRrIntervals | null;
  morphology: BeatTemplateComparison | null;
}

/** A typical adult RR (s), the centre of the absolute pre-RR feature. */
const TYPICAL_RR_SECONDS = 0.8;
/** The unit of the absolute QRS width feature (s): about a normal QRS, so ordinary beats read near 0. */
const QRS_WIDTH_UNIT_SECONDS = 0.1;
const RATIO_MIN = 0;
const RATIO_MAX = 4;

/** Cap of the RR ratios for models trained from now on (see the header). */
export const RR_RATIO_MAX = 1.5;
/** The cap of models saved before `rrRatioMax` existed (the general ratio clip). */
export const LEGACY_RR_RATIO_MAX = RATIO_MAX;

/** What each input of a feature set means, in order (the one table both functions below read). */
const FEATURE_NAMES: Readonly<Record<BeatFeatureSet, readonly string[]>> = {
  none: [],
  rr: RR_FEATURE_NAMES,
  'rr-morphology': [...RR_FEATURE_NAMES, ...MORPHOLOGY_FEATURE_NAMES],
  'rr-morphology-qrs': [...RR_FEATURE_NAMES, ...MORPHOLOGY_FEATURE_NAMES, ...QRS_FEATURE_NAMES],
  'rr-morphology-qrs-p': [
    ...RR_FEATURE_NAMES,
    ...MORPHOLOGY_FEATURE_NAMES,
    ...QRS_FEATURE_NAMES,
    ...P_WAVE_FEATURE_NAMES,
  ],
};

/**
 * The oldest beat schema version that carries everything a feature set reads: v2 added `rr` and
 * `morphology`, v3 the QRS comparison, v4 the P-wave comparison. Older beats would read as "ordinary" on
 * every missing input.
 */
const SCHEMA_VERSION_NEEDED: Readonly<Record<BeatFeatureSet, number>> = {
  none: 1,
  rr: 2,
  'rr-morphology': 2,
  'rr-morphology-qrs': 3,
  'rr-morphology-qrs-p': 4,
};

/** Feature sets that read the P-wave span, which only a beat holding it before its R-peak has. */
export function needsPWaveSpan(set: BeatFeatureSet): boolean {
  return set === 'rr-morphology-qrs-p';
}

export function beatSchemaVersionNeeded(set: BeatFeatureSet): number {
  return SCHEMA_VERSION_NEEDED[set];
}

/**
 * The beat schema version a beat's fields show it was written with (1 to 4). A v4 beat that does not
 * hold the P-wave span (one starting at its R-peak) reads as v3: nothing tells them apart, and neither
 * has a P-wave comparison to offer.
 */
export function beatSchemaVersionOf(beat: BeatContext): number {
  if (beat.rr === null || beat.morphology === null) return 1;
  if ((beat.morphology.qrsCorrelation ?? null) === null) return 2;
  return (beat.morphology.pWaveCorrelation ?? null) === null ? 3 : 4;
}

/** What each input of a feature set means, in order (empty for `none`). */
export function featureNamesOf(set: BeatFeatureSet): string[] {
  return [...FEATURE_NAMES[set]];
}

export function featureCountOf(set: BeatFeatureSet): number {
  return FEATURE_NAMES[set].length;
}

/** The feature set a model with `featureCount` head inputs expects; a typed error for unknown sizes. */
export function featureSetForCount(featureCount: number): BeatFeatureSet {
  for (const set of BEAT_FEATURE_SETS) if (featureCountOf(set) === featureCount) return set;
  throw new ConfigError(
    `the model expects ${featureCount} scalar features per beat; known sets: ${BEAT_FEATURE_SETS.map((s) => `${s} (${featureCountOf(s)})`).join(', ')}`,
    'featureCount',
  );
}

const clip = (v: number, max = RATIO_MAX) => Math.min(max, Math.max(RATIO_MIN, v));

/** 1 - a correlation, in [0, 2]: 0 for the template's shape, 2 for its mirror image. */
const dissimilarity = (correlation: number) => Math.min(2, Math.max(0, 1 - correlation));

/** A typed error unless `max` is a usable RR ratio cap (above 1: an ordinary beat must not be clipped). */
export function validateRrRatioMax(max: number): void {
  if (!(Number.isFinite(max) && max > 1 && max <= RATIO_MAX))
    throw new ConfigError(`rrRatioMax must be in (1, ${RATIO_MAX}], got ${max}`, 'rrRatioMax');
}

/**
 * Write the `rr` features of one beat at `out[offset...]`. Unknown intervals (a segment's first beat, a
 * pause past the look-ahead, beats written before v2 of the schema) fall back to the local mean, i.e. to
 * "an ordinary beat", rather than to a value the network could mistake for a rhythm event.
 */
function writeRrFeatures(
  rr: BeatRrIntervals | null,
  out: Float32Array,
  offset: number,
  rrRatioMax: number,
): void {
  if (rr === null) {
    out.fill(0, offset, offset + RR_FEATURE_NAMES.length);
    return;
  }
  const local = rr.localMeanSeconds > 0 ? rr.localMeanSeconds : TYPICAL_RR_SECONDS;
  const long = rr.longMeanSeconds > 0 ? rr.longMeanSeconds : local;
  const pre = rr.preSeconds ?? local;
  const post = rr.postSeconds ?? local;
  out[offset] = clip(pre / long, rrRatioMax) - 1;
  out[offset + 1] = clip(post / long, rrRatioMax) - 1;
  out[offset + 2] = clip(local / long, rrRatioMax) - 1;
  out[offset + 3] = clip(pre / local, rrRatioMax) - 1;
  out[offset + 4] = clip(pre) - TYPICAL_RR_SECONDS;
}

/** Write the morphology features of one beat at `out[offset...]`; an unknown comparison reads as ordinary. */
function writeMorphologyFeatures(m: BeatTemplateComparison | null, out: Float32Array, offset = 0): void {
  out[offset] = m === null ? 0 : dissimilarity(m.templateCorrelation);
  out[offset + 1] = m === null ? 0 : Math.min(4, Math.max(0, m.relativeRmsDifference));
}

/**
 * Write the QRS features of one beat at `out[offset...]`. Unknown values (beats written before v3 of the
 * schema, a flat QRS span) read as an ordinary beat: correlation 1, width 100 ms, width equal to the
 * template's.
 */
function writeQrsFeatures(m: BeatTemplateComparison | null, out: Float32Array, offset = 0): void {
  const correlation = m?.qrsCorrelation ?? null;
  const width = m?.qrsWidthSeconds ?? null;
  const templateWidth = m?.templateQrsWidthSeconds ?? null;
  out[offset] = correlation === null ? 0 : dissimilarity(correlation);
  out[offset + 1] = width === null ? 0 : Math.min(3, Math.max(0, width / QRS_WIDTH_UNIT_SECONDS)) - 1;
  out[offset + 2] =
    width === null || templateWidth === null || !(templateWidth > 0) ? 0 : clip(width / templateWidth) - 1;
}

/**
 * Write the P-wave features of one beat at `out[offset...]`. Unknown values (beats written before v4, a
 * beat without the span) read as a P wave like the template's.
 */
function writePWaveFeatures(m: BeatTemplateComparison | null, out: Float32Array, offset = 0): void {
  const correlation = m?.pWaveCorrelation ?? null;
  const rms = m?.pWaveRelativeRmsDifference ?? null;
  out[offset] = correlation === null ? 0 : dissimilarity(correlation);
  // In units of the template's size: past twice that, the difference is noise or a missed detection.
  out[offset + 1] = rms === null ? 0 : Math.min(2, Math.max(0, rms));
}

/**
 * Write the features of `set` for one beat at `out[offset...]` (nothing for `none`), RR ratios capped at
 * `rrRatioMax` (the model's).
 */
export function writeBeatFeatures(
  set: BeatFeatureSet,
  beat: BeatContext,
  out: Float32Array,
  offset: number,
  rrRatioMax: number,
): void {
  if (set === 'none') return;
  writeRrFeatures(beat.rr, out, offset, rrRatioMax);
  if (set === 'rr') return;
  writeMorphologyFeatures(beat.morphology, out, offset + RR_FEATURE_NAMES.length);
  if (set === 'rr-morphology') return;
  const qrsOffset = offset + RR_FEATURE_NAMES.length + MORPHOLOGY_FEATURE_NAMES.length;
  writeQrsFeatures(beat.morphology, out, qrsOffset);
  if (set === 'rr-morphology-qrs') return;
  writePWaveFeatures(beat.morphology, out, qrsOffset + QRS_FEATURE_NAMES.length);
}

/** The features of one beat for a feature set (an empty array for `none`). */
export function beatFeatures(
  set: BeatFeatureSet,
  beat: BeatContext,
  rrRatioMax = RR_RATIO_MAX,
): Float32Array {
  const out = new Float32Array(featureCountOf(set));
  writeBeatFeatures(set, beat, out, 0, rrRatioMax);
  return out;
}
