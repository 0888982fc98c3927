import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { qrsWidthSeconds } from '../../../src/dsp/qrsWidth';

/** A triangular QRS of `halfSamples` on either side of the R-peak at `r`, on a flat baseline. */
const triangle = (length: number, r: number, halfSamples: number, height = 1) =>
  Float64Array.from({ length }, (_, i) => height * Math.max(0, 1 - Math.abs(i - r) / halfSamples));

describe('qrsWidthSeconds', () => {
  it('measures the span of steep slope: a triangle of 2k samples is 2k samples wide', () => {
    assert.equal(qrsWidthSeconds(triangle(187, 93, 5), 93, 125), 10 / 125);
    assert.equal(qrsWidthSeconds(triangle(187, 93, 8), 93, 125), 16 / 125);
    // Amplitude does not matter: the threshold is relative to the steepest slope.
    assert.equal(qrsWidthSeconds(triangle(187, 93, 8, 0.01), 93, 125), 16 / 125);
  });

  it('ignores slopes outside the search span and shallow waves inside it', () => {
    const beat = triangle(187, 93, 5);
    for (let i = 0; i < 187; i++) beat[i] += 0.2 * Math.exp(-(((i - 140) / 8) ** 2)); // T wave, 0.38 s on
    for (let i = 0; i < 10; i++) beat[i] += i % 2; // a spike train at the start, outside +-0.15 s
    assert.equal(qrsWidthSeconds(beat, 93, 125), 10 / 125);
  });

  it('sees only the half after the R-peak when the beat starts at it (Kachuee form)', () => {
    assert.equal(qrsWidthSeconds(triangle(187, 0, 6), 0, 125), 6 / 125);
  });

  it('is null for a flat span or a single sample, and refuses a bad rate', () => {
    assert.equal(qrsWidthSeconds(new Float64Array(187).fill(0.5), 93, 125), null);
    assert.equal(qrsWidthSeconds([1], 0, 125), null);
    assert.throws(() => qrsWidthSeconds(triangle(187, 93, 5), 93, 0), RangeError);
  });
});
