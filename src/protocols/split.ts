/**
 * Train / validation / test assignment of beats under the two MIT-BIH evaluation protocols (see
 * ../shared/specs/mitbih.md, "Protocols"; never compare results of one with the other):
 *
 * - `intra` (the seed paper, Kachuee et al.'s beat set): a random beat-level split, 20 % test and 80 %
 *   train, of which 10 % is validation. The draw is a seeded hash of (sourceId, R-peak sample index), so a
 *   beat gets the same split in every run and in any processing order (streaming, replays, restarts),
 *   without any shared state. Expected shares: test 20 %, validation 8 %, train 72 % of all beats.
 * - `inter` (de Chazal et al. 2004): records of DS1 are train, of DS2 test; other records (the paced
 *   ones) are excluded. `validationFraction` (default 0) can carve a seeded beat-level validation share
 *   out of DS1; a patient-wise validation set is the trainer's choice, not this function's.
 */
import { hashToUnit } from '../dsp/random';
import { DE_CHAZAL_DS1, DE_CHAZAL_DS2 } from './mitbih';

export type Protocol = 'intra' | 'inter';
export type Split = 'train' | 'validation' | 'test';
export const SPLITS: readonly Split[] = ['train', 'validation', 'test'];

export interface SplitConfig {
  protocol: Protocol;
  seed: number;
  /** intra: fraction of beats in test. */
  testFraction: number;
  /** Fraction of the training beats held out for validation. */
  validationFraction: number;
}

export const DEFAULT_SPLIT_SEED = 20180101;

export function defaultSplitConfig(protocol: Protocol, seed = DEFAULT_SPLIT_SEED): SplitConfig {
  return protocol === 'intra'
    ? { protocol, seed, testFraction: 0.2, validationFraction: 0.1 }
    : { protocol, seed, testFraction: 0, validationFraction: 0 };
}

/** The split of one beat, or undefined when the protocol excludes it. */
export function assignSplit(
  config: SplitConfig,
  sourceId: string,
  rPeakSampleIndex: number,
): Split | undefined {
  const key = `${sourceId}:${rPeakSampleIndex}`;
  if (config.protocol === 'intra') {
    if (hashToUnit(key, config.seed) < config.testFraction) return 'test';
    return hashToUnit(key, config.seed ^ 0x5bd1e995) < config.validationFraction ? 'validation' : 'train';
  }
  if (DE_CHAZAL_DS2.includes(sourceId)) return 'test';
  if (DE_CHAZAL_DS1.includes(sourceId)) {
    return config.validationFraction > 0 &&
      hashToUnit(key, config.seed ^ 0x5bd1e995) < config.validationFraction
      ? 'validation'
      : 'train';
  }
  return undefined;
}

/**
 * Whether a reference beat (its annotation's sample index) is in the protocol's test split as the beat logs
 * assign it (default split seed): the beats a model trained under that protocol has not seen.
 */
export function isTestBeat(protocol: Protocol, sourceId: string, rPeakSampleIndex: number): boolean {
  return assignSplit(defaultSplitConfig(protocol), sourceId, rPeakSampleIndex) === 'test';
}

/** Whether a protocol uses a record at all (inter: DS1 and DS2 only). */
export function protocolIncludes(protocol: Protocol, sourceId: string): boolean {
  return protocol === 'intra' || DE_CHAZAL_DS1.includes(sourceId) || DE_CHAZAL_DS2.includes(sourceId);
}
