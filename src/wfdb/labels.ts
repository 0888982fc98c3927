/**
 * Which annotation symbols are heartbeats, and how beat symbols map to the five AAMI EC57 classes.
 *
 * The AAMI mapping follows de Chazal et al. 2004 and most of the literature: N <- N L R e j,
 * S <- A a J S, V <- V E, F <- F, Q <- / f Q. Note that EC57's own scorer puts `e` (atrial escape) and
 * `j` (nodal escape) in S; here they are N, as in de Chazal. Beat symbols outside this table (B, n, r, ?,
 * which MIT-BIH does not use) have no AAMI class and are reported as unmapped rather than guessed.
 */
import type { Annotation } from './annotations';

/** The AAMI EC57 heartbeat classes. */
export type AamiClass = 'N' | 'S' | 'V' | 'F' | 'Q';

/** AAMI classes in their conventional order. */
export const AAMI_CLASSES: readonly AamiClass[] = ['N', 'S', 'V', 'F', 'Q'];

/**
 * Beat annotation symbols, as WFDB's `isqrs()` defines them (the PhysioBank "beat annotations" list).
 * Everything else (rhythm `+`, noise `~`, artifact `|`, flutter wave `!`, blocked P wave `x`, ...) is not
 * a beat.
 */
// prettier-ignore
export const BEAT_SYMBOLS: ReadonlySet<string> = new Set([
  'N', 'L', 'R', 'B', 'A', 'a', 'J', 'S', 'V', 'r', 'F', 'e', 'j', 'n', 'E', '/', 'f', 'Q', '?',
]);

/** Beat symbol -> AAMI class (de Chazal 2004 convention: `e` and `j` are N). */
// prettier-ignore
export const AAMI_CLASS_OF_SYMBOL: Readonly<Record<string, AamiClass>> = Object.freeze({
  N: 'N', L: 'N', R: 'N', e: 'N', j: 'N',
  A: 'S', a: 'S', J: 'S', S: 'S',
  V: 'V', E: 'V',
  F: 'F',
  '/': 'Q', f: 'Q', Q: 'Q',
});

/** True when `symbol` is a beat annotation. */
export function isBeat(symbol: string): boolean {
  return BEAT_SYMBOLS.has(symbol);
}

/** The AAMI class of a beat symbol, or undefined for non-beats and unmapped beats. */
export function aamiClass(symbol: string): AamiClass | undefined {
  return Object.prototype.hasOwnProperty.call(AAMI_CLASS_OF_SYMBOL, symbol)
    ? AAMI_CLASS_OF_SYMBOL[symbol]
    : undefined;
}

/**
 * True when a record's annotations contain paced beats (`/`). This is how library code recognises paced
 * records; lists of record names (such as MIT-BIH's 102, 104, 107, 217) belong to protocol code.
 */
export function hasPacedBeats(annotations: readonly Annotation[]): boolean {
  return annotations.some((a) => a.symbol === '/');
}

/** Counts of beats by symbol and by AAMI class (with `unmapped` for beats without a class). */
export interface BeatCounts {
  beats: number;
  bySymbol: Record<string, number>;
  aami: Record<AamiClass, number>;
  unmapped: number;
}

/** Count the beats among `annotations`. */
export function countBeats(annotations: readonly Annotation[]): BeatCounts {
  const counts: BeatCounts = { beats: 0, bySymbol: {}, aami: { N: 0, S: 0, V: 0, F: 0, Q: 0 }, unmapped: 0 };
  for (const a of annotations) {
    if (!isBeat(a.symbol)) continue;
    counts.beats++;
    counts.bySymbol[a.symbol] = (counts.bySymbol[a.symbol] ?? 0) + 1;
    const cls = aamiClass(a.symbol);
    if (cls === undefined) counts.unmapped++;
    else counts.aami[cls]++;
  }
  return counts;
}
