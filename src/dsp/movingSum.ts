/**
 * Small streaming building blocks on typed arrays: a delay line and a moving sum. They are the pieces
 * of the linear-phase filters used by the ECG filter and the QRS detector: a moving average of odd
 * length W has an exact group delay of (W - 1) / 2 samples at every frequency.
 */

/** Smallest power of two >= n (n >= 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** A fixed-length delay line: `push(x)` returns the value pushed `delay` calls earlier. */
export class DelayLine {
  private readonly buffer: Float64Array;
  private readonly mask: number;
  private position = 0;

  constructor(
    readonly delay: number,
    initial = 0,
  ) {
    if (!Number.isInteger(delay) || delay < 0)
      throw new RangeError(`delay must be a non-negative integer, got ${delay}`);
    this.buffer = new Float64Array(nextPowerOfTwo(delay + 1)).fill(initial);
    this.mask = this.buffer.length - 1;
  }

  push(x: number): number {
    if (this.delay === 0) return x;
    const out = this.buffer[(this.position - this.delay) & this.mask];
    this.buffer[this.position & this.mask] = x;
    this.position++;
    return out;
  }

  /** Fill the line with `value`, as if that value had been pushed forever. */
  reset(value = 0): void {
    this.buffer.fill(value);
    this.position = 0;
  }
}

/**
 * Moving sum over the last `length` inputs. Kept as a running sum (O(1) per sample); it is recomputed
 * exactly every `length * 64` samples so that floating-point drift cannot accumulate over long streams.
 */
export class MovingSum {
  private readonly buffer: Float64Array;
  private readonly mask: number;
  private position = 0;
  private sum = 0;
  private sinceExact = 0;
  private readonly exactEvery: number;

  constructor(
    readonly length: number,
    initial = 0,
  ) {
    if (!Number.isInteger(length) || length < 1)
      throw new RangeError(`length must be a positive integer, got ${length}`);
    this.buffer = new Float64Array(nextPowerOfTwo(length + 1));
    this.mask = this.buffer.length - 1;
    this.exactEvery = Math.max(4096, length * 64);
    this.reset(initial);
  }

  /** Add `x`, drop the input `length` calls old, return the sum of the last `length` inputs. */
  push(x: number): number {
    const old = this.buffer[(this.position - this.length) & this.mask];
    this.buffer[this.position & this.mask] = x;
    this.position++;
    this.sum += x - old;
    if (++this.sinceExact >= this.exactEvery) {
      this.sinceExact = 0;
      let s = 0;
      for (let k = 1; k <= this.length; k++) s += this.buffer[(this.position - k) & this.mask];
      this.sum = s;
    }
    return this.sum;
  }

  /** Forget the history, as if `value` had been pushed forever. */
  reset(value = 0): void {
    this.buffer.fill(value);
    this.position = 0;
    this.sum = value * this.length;
    this.sinceExact = 0;
  }
}

/** An odd length close to `seconds * sampleRateHz`, at least `min`. */
export function oddLength(seconds: number, sampleRateHz: number, min = 1): number {
  const n = Math.max(min, Math.round(seconds * sampleRateHz));
  return n % 2 === 1 ? n : n + 1;
}
