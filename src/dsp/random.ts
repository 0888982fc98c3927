/**
 * Deterministic randomness: a seeded 32-bit PRNG (mulberry32) for shuffling, and a seeded hash of
 * strings to [0, 1) for decisions that must not depend on processing order (e.g. which split a beat
 * belongs to: the same beat gets the same answer in every run, whatever order it arrives in).
 */

/** A seeded PRNG returning floats in [0, 1). Same seed, same sequence, on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit hash of a string with a seed (MurmurHash3-style mixing over UTF-16 code units). */
export function hashString32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A seeded hash of `text` mapped to [0, 1). */
export function hashToUnit(text: string, seed: number): number {
  return hashString32(text, seed) / 4294967296;
}
