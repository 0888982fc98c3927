/**
 * Beat segmentation in fixed windows, after Kachuee et al. 2018 ("ECG Heartbeat Classification: A Deep
 * Transferable Representation"): the signal is cut into consecutive windows of `windowSeconds` (10 s);
 * each window is min-max normalised to [0, 1]; T is the median RR interval of the R-peaks inside the
 * window; every R-peak of the window yields a beat of round(rrFactor * T) samples (1.2 T) starting at
 * the R-peak, zero-padded (or cut) to `beatSamples` (187). The `centred` form instead takes `beatSamples`
 * samples centred on the R-peak (floor(beatSamples / 2) before it), normalised the same way.
 *
 * Conventions where the paper is silent (documented in docs/operators.md):
 * - windows start at the first sample of each contiguous segment; a beat may run past its window's end
 *   (the following samples are normalised with its own window's min and max and clipped to [0, 1]) but
 *   never past the end of its segment, which is a gap or the end of the stream;
 * - the last, partial window of a segment is normalised over the last `windowSeconds` of the segment
 *   (or the whole segment if shorter), so that its beats are not dropped and still see a full window;
 * - a window with fewer than two R-peaks uses the previous window's T (or `defaultRrSeconds`).
 * Beats are therefore complete once samples up to (window end + beatSamples) have arrived: that is the
 * look-ahead, window length included.
 */

export type BeatForm = 'kachuee' | 'centred';

export const BEAT_FORMS: readonly BeatForm[] = ['kachuee', 'centred'];

export interface BeatWindowConfig {
  form: BeatForm;
  /** Normalisation window (s). */
  windowSeconds: number;
  /** Length of every output beat, in samples (at the beat rate). */
  beatSamples: number;
  /** Kachuee: beat length = rrFactor * median RR, capped at beatSamples. */
  rrFactor: number;
  /** RR used before any has been measured (s). */
  defaultRrSeconds: number;
}

export const DEFAULT_BEAT_WINDOW_CONFIG: Readonly<BeatWindowConfig> = Object.freeze({
  form: 'kachuee' as BeatForm,
  windowSeconds: 10,
  beatSamples: 187,
  rrFactor: 1.2,
  defaultRrSeconds: 1,
});

export interface WindowBeat<P> {
  /** R-peak index in the segment's numbering. */
  rPeakIndex: number;
  samples: Float32Array;
  /** Where the R-peak lies within `samples`: 0 for the Kachuee form, floor(beatSamples / 2) centred. */
  rPeakOffset: number;
  /** Median RR of the window (samples), the T of Kachuee et al. */
  rrSamples: number;
  /** Start of the normalisation window used. */
  windowStart: number;
  /**
   * The following R-peak of the segment when it is already held: within the window, or within the
   * look-ahead past the window's end (at a segment's end: any later R-peak). Never more, so that the
   * value does not depend on how the samples were chunked.
   */
  nextRPeakIndex: number | undefined;
  payload: P;
}

interface Peak<P> {
  index: number;
  payload: P;
}

/**
 * One contiguous segment of one source. Push samples in order with `pushSamples`, R-peaks (in any order,
 * at or after the segment start) with `addPeak`; completed beats are returned by `pushSamples` and
 * `finish`, in R-peak order.
 *
 * @example
 * const seg = new BeatWindowSegmenter<string>(125, 0);
 * seg.addPeak(40, 'N');
 * const beats = [...seg.pushSamples(block), ...seg.finish()];
 */
export class BeatWindowSegmenter<P> {
  readonly config: BeatWindowConfig;
  readonly windowSamples: number;
  /** Samples needed past a window's end before its beats are complete. */
  readonly lookAheadSamples: number;
  private store = new Float64Array(4096);
  /** Segment index of store[0]. */
  private storeStart: number;
  private storeLength = 0;
  private windowStart: number;
  private peaks: Peak<P>[] = [];
  /** Indices of peaks already cut, within the stored samples (for the partial last window's T). */
  private recent: number[] = [];
  private lastRr: number;
  /** Peaks outside the segment's samples (they cannot be cut); counted for reporting. */
  dropped = 0;

  constructor(
    readonly sampleRateHz: number,
    readonly segmentStart: number,
    config: Partial<BeatWindowConfig> = {},
  ) {
    this.config = { ...DEFAULT_BEAT_WINDOW_CONFIG, ...config };
    if (!(this.config.beatSamples >= 1)) throw new RangeError('beatSamples must be at least 1');
    this.windowSamples = Math.max(1, Math.round(this.config.windowSeconds * sampleRateHz));
    this.lookAheadSamples =
      this.config.form === 'kachuee' ? this.config.beatSamples : Math.ceil(this.config.beatSamples / 2);
    this.storeStart = segmentStart;
    this.windowStart = segmentStart;
    this.lastRr = Math.round(this.config.defaultRrSeconds * sampleRateHz);
  }

  /** Index after the last sample received. */
  get end(): number {
    return this.storeStart + this.storeLength;
  }

  addPeak(index: number, payload: P): void {
    this.peaks.push({ index: Math.round(index), payload });
  }

  /** Append samples (contiguous with the previous ones); returns the beats completed by them. */
  pushSamples(samples: ArrayLike<number>): WindowBeat<P>[] {
    this.append(samples);
    const out: WindowBeat<P>[] = [];
    while (this.windowStart + this.windowSamples + this.lookAheadSamples <= this.end) {
      const ws = this.windowStart;
      const we = ws + this.windowSamples;
      this.emitWindow(ws, we, ws, we, we + this.lookAheadSamples, out);
      this.windowStart = we;
      this.trim();
    }
    return out;
  }

  /** End of the segment: cut the beats of the remaining windows. */
  finish(): WindowBeat<P>[] {
    const out: WindowBeat<P>[] = [];
    const end = this.end;
    while (this.windowStart < end) {
      const ws = this.windowStart;
      const we = Math.min(ws + this.windowSamples, end);
      // At the segment's end every R-peak is held, so the next one is known wherever it lies.
      if (we - ws === this.windowSamples) {
        this.emitWindow(ws, we, ws, we, Infinity, out);
      } else {
        // Partial last window: normalise over the last full window's worth of the segment.
        const ns = Math.max(this.segmentStart, end - this.windowSamples);
        this.emitWindow(ws, we, ns, end, Infinity, out);
      }
      this.windowStart = we;
    }
    this.dropped += this.peaks.length;
    this.peaks = [];
    return out;
  }

  private append(samples: ArrayLike<number>): void {
    const need = this.storeLength + samples.length;
    if (need > this.store.length) {
      const grown = new Float64Array(Math.max(need, 2 * this.store.length));
      grown.set(this.store.subarray(0, this.storeLength));
      this.store = grown;
    }
    for (let i = 0; i < samples.length; i++) this.store[this.storeLength + i] = samples[i];
    this.storeLength = need;
  }

  /** Keep one window before the current one (partial-window normalisation and centred beats need it). */
  private trim(): void {
    const keepFrom = Math.max(this.segmentStart, this.windowStart - this.windowSamples);
    const drop = keepFrom - this.storeStart;
    if (drop > 0 && drop <= this.storeLength) {
      this.store.copyWithin(0, drop, this.storeLength);
      this.storeLength -= drop;
      this.storeStart = keepFrom;
      this.recent = this.recent.filter((i) => i >= keepFrom);
    }
  }

  /** Beats of peaks in [ws, we), normalised over [ns, ne); next R-peaks are looked for below `nextLimit`. */
  private emitWindow(
    ws: number,
    we: number,
    ns: number,
    ne: number,
    nextLimit: number,
    out: WindowBeat<P>[],
  ): void {
    const inWindow: Peak<P>[] = [];
    const rest: Peak<P>[] = [];
    for (const p of this.peaks) {
      if (p.index < ws) {
        if (p.index < this.segmentStart || p.index < this.storeStart) this.dropped++;
        else inWindow.push(p); // late arrival inside an already closed window: cut it with this window
      } else if (p.index < we) {
        inWindow.push(p);
      } else {
        rest.push(p);
      }
    }
    this.peaks = rest;
    if (inWindow.length === 0) return;
    inWindow.sort((a, b) => a.index - b.index);

    let min = Infinity;
    let max = -Infinity;
    const s = this.store;
    for (let k = ns - this.storeStart; k < ne - this.storeStart; k++) {
      const v = s[k];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const range = max - min;
    const scale = range > 0 ? 1 / range : 0;

    // T: median RR of the R-peaks inside the normalisation window (for the last, partial window this
    // includes peaks already cut with the previous window).
    const known = [...this.recent, ...inWindow.map((p) => p.index)].filter((i) => i >= ns && i < ne);
    known.sort((a, b) => a - b);
    const rr: number[] = [];
    for (let i = 1; i < known.length; i++) if (known[i] > known[i - 1]) rr.push(known[i] - known[i - 1]);
    if (rr.length > 0) {
      rr.sort((a, b) => a - b);
      const m = rr.length >> 1;
      this.lastRr = rr.length % 2 === 1 ? rr[m] : (rr[m - 1] + rr[m]) / 2;
    }
    const T = this.lastRr;
    const cfg = this.config;
    const segmentEnd = this.end;
    let following: number | undefined;
    for (const p of rest) {
      if (p.index < nextLimit && (following === undefined || p.index < following)) following = p.index;
    }
    for (let k = 0; k < inWindow.length; k++) {
      const p = inWindow[k];
      const beat = new Float32Array(cfg.beatSamples);
      let from: number;
      let length: number;
      if (cfg.form === 'kachuee') {
        from = p.index;
        length = Math.min(cfg.beatSamples, Math.max(1, Math.round(cfg.rrFactor * T)));
      } else {
        from = p.index - Math.floor(cfg.beatSamples / 2);
        length = cfg.beatSamples;
      }
      for (let i = 0; i < length; i++) {
        const idx = from + i;
        if (idx < this.storeStart || idx < this.segmentStart || idx >= segmentEnd) continue; // zero padding
        let v = (s[idx - this.storeStart] - min) * scale;
        if (v < 0) v = 0;
        else if (v > 1) v = 1;
        beat[i] = v;
      }
      const nextRPeakIndex = k + 1 < inWindow.length ? inWindow[k + 1].index : following;
      out.push({
        rPeakIndex: p.index,
        samples: beat,
        rPeakOffset: p.index - from,
        rrSamples: T,
        windowStart: ns,
        nextRPeakIndex,
        payload: p.payload,
      });
    }
    for (const p of inWindow) this.recent.push(p.index);
  }
}
