/**
 * The premature supraventricular beat by its clinical definition, as a decision rule after the network:
 * a beat the network calls N is called S when it comes early (its RR interval below a fraction of the
 * local mean RR) and looks like the patient's dominant beat (template correlation above a bound).
 *
 * Why: on the inter-patient protocol the network finds 13-40 % of DS2's S beats whatever the seed
 * (docs/benchmarks.md). It learns DS1's supraventricular beats partly by morphology, which does not carry
 * over to other patients, while prematurity with a normal shape does; de Chazal et al. (2004) reach 76 %
 * with RR features in a linear model. The rule reads two of the model's own scalar features, so it needs a
 * model trained with the `rr-morphology` feature set or a larger one. Its bounds were chosen on DS1 (the
 * training records), never on DS2: PREMATURITY_RULE_DS1.
 */
import { ConfigError } from '../errors';

export interface PrematurityRule {
  /** Premature: RR before the beat / local mean RR below this (e.g. 0.85 = at least 15 % early). */
  rrRatioBelow: number;
  /** Normal shape: correlation with the patient's dominant-beat template above this. */
  templateCorrelationAbove: number;
}

/**
 * The bounds that maximise the rule's own S F1 on a 20 % sample of DS1's beats (10,185 beats, 178 S; RR
 * ratio 0.600-0.950 by 0.025, correlation 0.50, 0.70, 0.80, 0.85, 0.90, 0.95; there Se 46.6 %, +P 30.5 %),
 * chosen before the rule was applied to DS2.
 */
export const PREMATURITY_RULE_DS1: PrematurityRule = { rrRatioBelow: 0.85, templateCorrelationAbove: 0.7 };

/** The scalar features the rule reads, by the names of src/trainer/beatFeatures.ts. */
export const PREMATURITY_FEATURES = {
  rrRatio: 'preRr/localMean',
  templateDissimilarity: '1 - template correlation',
} as const;

/** A typed error unless both bounds are usable: a ratio in (0, 1), a correlation in (-1, 1). */
export function validatePrematurityRule(rule: PrematurityRule): PrematurityRule {
  const { rrRatioBelow, templateCorrelationAbove } = rule;
  if (!(Number.isFinite(rrRatioBelow) && rrRatioBelow > 0 && rrRatioBelow < 1))
    throw new ConfigError(
      `rrRatioBelow must be in (0, 1): a beat earlier than that fraction of the local mean RR is premature; got ${rrRatioBelow}`,
      'rrRatioBelow',
    );
  if (!(
    Number.isFinite(templateCorrelationAbove) &&
    templateCorrelationAbove > -1 &&
    templateCorrelationAbove < 1
  ))
    throw new ConfigError(
      `templateCorrelationAbove must be in (-1, 1), got ${templateCorrelationAbove}`,
      'templateCorrelationAbove',
    );
  return { rrRatioBelow, templateCorrelationAbove };
}

/** "prematurity rule: N -> S below 0.85 of the local mean RR, template correlation above 0.70". */
export function describePrematurityRule(rule: PrematurityRule): string {
  return `prematurity rule: N -> S below ${rule.rrRatioBelow.toFixed(2)} of the local mean RR, template correlation above ${rule.templateCorrelationAbove.toFixed(2)}`;
}

/** Where the rule finds its inputs in a model's feature rows and its classes. */
export interface PrematurityInputs {
  featureCount: number;
  rrRatioIndex: number;
  templateIndex: number;
  normalClass: number;
  supraventricularClass: number;
}

/** Whether a model with these scalar features can use the rule (it reads two of them). */
export function readsPrematurityInputs(featureNames: readonly string[]): boolean {
  return (
    featureNames.includes(PREMATURITY_FEATURES.rrRatio) &&
    featureNames.includes(PREMATURITY_FEATURES.templateDissimilarity)
  );
}

/**
 * Locate the rule's inputs for a model with these scalar features and classes; a typed error naming what
 * is missing (a model trained without the morphology features cannot use the rule).
 */
export function prematurityInputs(
  featureNames: readonly string[],
  classes: readonly string[],
): PrematurityInputs {
  if (!readsPrematurityInputs(featureNames))
    throw new ConfigError(
      `the prematurity rule reads the scalar features "${PREMATURITY_FEATURES.rrRatio}" and "${PREMATURITY_FEATURES.templateDissimilarity}", which this model does not take (its features: ${featureNames.length === 0 ? 'none' : featureNames.join(', ')}); train it with --features rr-morphology or a larger set`,
      'features',
    );
  const normalClass = classes.indexOf('N');
  const supraventricularClass = classes.indexOf('S');
  if (normalClass < 0 || supraventricularClass < 0)
    throw new ConfigError(`the prematurity rule needs classes N and S, got ${classes.join(', ')}`, 'classes');
  return {
    featureCount: featureNames.length,
    rrRatioIndex: featureNames.indexOf(PREMATURITY_FEATURES.rrRatio),
    templateIndex: featureNames.indexOf(PREMATURITY_FEATURES.templateDissimilarity),
    normalClass,
    supraventricularClass,
  };
}

/** A rule bound to one model: its bounds and where that model's inputs are. */
export interface BoundPrematurityRule {
  rule: PrematurityRule;
  inputs: PrematurityInputs;
}

/** Bind `rule` to a model's scalar features and classes (the typed errors of prematurityInputs). */
export function bindPrematurityRule(
  rule: PrematurityRule,
  featureNames: readonly string[],
  classes: readonly string[],
): BoundPrematurityRule {
  return { rule, inputs: prematurityInputs(featureNames, classes) };
}

/**
 * Apply the rule in place to `count` arg-max predictions, reading each beat's row of `features`
 * (row-major [count, featureCount], as the model was fed). Returns how many N became S. The features hold
 * `ratio - 1` and `1 - correlation`, and unknown values read as ordinary: a beat without a known RR
 * interval is never premature, and an early beat before the patient has a template (the first seconds of a
 * stream) is judged on its RR interval alone, as the encoding cannot tell it from a perfect match.
 */
export function applyPrematurityRule(
  rule: PrematurityRule,
  inputs: PrematurityInputs,
  predicted: Int32Array,
  features: Float32Array,
  count = predicted.length,
): number {
  if (features.length < count * inputs.featureCount)
    throw new RangeError(`expected ${count * inputs.featureCount} feature values, got ${features.length}`);
  const rrBelow = rule.rrRatioBelow - 1;
  const dissimilarityBelow = 1 - rule.templateCorrelationAbove;
  let changed = 0;
  for (let i = 0; i < count; i++) {
    if (predicted[i] !== inputs.normalClass) continue;
    const row = i * inputs.featureCount;
    if (
      features[row + inputs.rrRatioIndex] < rrBelow &&
      features[row + inputs.templateIndex] < dissimilarityBelow
    ) {
      predicted[i] = inputs.supraventricularClass;
      changed++;
    }
  }
  return changed;
}
