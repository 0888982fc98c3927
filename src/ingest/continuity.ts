/**
 * Per-patient continuity of a live waveform: where each message's samples belong in the patient's sample
 * numbering, judged by the device's timestamps. A message that starts where the previous one ended (within
 * `toleranceSeconds`) continues the numbering; one that starts later leaves a **gap** (the numbering jumps
 * by the missing samples, so downstream the sanitizer ends the segment and the beat segmenter never
 * stitches across it); one that starts earlier **overlaps** (its repeated samples are dropped, and a message
 * entirely inside what was received, or with a control id seen recently, is a **duplicate**: a
 * retransmission after a lost ACK, acknowledged again but not published twice). A change of sampling
 * rate starts a new segment. Small timing jitter is absorbed by re-anchoring the clock on every contiguous
 * message, so slow drift between the device clock and its sample count never accumulates into false gaps.
 *
 * The numbering is strictly increasing per patient, and `sequenceNumber` counts published chunks without
 * holes, so consumers see gaps as sample gaps, never as lost messages. Pure: no I/O, no clock.
 */

export type PlacementKind = 'start' | 'contiguous' | 'gap' | 'overlap' | 'duplicate' | 'rate-change';

export interface Placement {
  kind: PlacementKind;
  /** Publish nothing (duplicate). */
  drop: boolean;
  /** Index of the first published sample in the patient's numbering. */
  firstSampleIndex: number;
  /** Leading samples of the message already received (dropped). */
  skipSamples: number;
  /** Missing samples before this message (gap). */
  gapSamples: number;
  sequenceNumber: number;
  /** Acquisition time of the first published sample. */
  acquisitionTimeMs: number;
  detail: string;
}

export interface ContinuityOptions {
  /** Timing differences up to this are jitter, not gaps or overlaps (s). */
  toleranceSeconds: number;
  /** Control ids remembered per patient for duplicate detection. */
  recentControlIds: number;
}

export const DEFAULT_CONTINUITY: ContinuityOptions = { toleranceSeconds: 0.05, recentControlIds: 64 };

/** A patient's continuity state at one moment (see `PatientContinuity.checkpoint`). */
export interface ContinuityCheckpoint {
  readonly patientId: string;
  readonly stream: Readonly<Stream> | undefined;
}

interface Stream {
  rateHz: number;
  /** Time of sample 0 of the current numbering at the current rate (re-anchored as messages arrive). */
  originMs: number;
  nextIndex: number;
  nextSequence: number;
  recent: string[];
}

export class PatientContinuity {
  private readonly streams = new Map<string, Stream>();
  private readonly options: ContinuityOptions;

  constructor(options: Partial<ContinuityOptions> = {}) {
    this.options = { ...DEFAULT_CONTINUITY, ...options };
  }

  get patients(): number {
    return this.streams.size;
  }

  /**
   * The patient's state as it is now. A caller that places a message and then fails to publish it puts
   * this back with `restore`, so that the sender's retransmission is placed again rather than taken for a
   * duplicate of something that was never published.
   */
  checkpoint(patientId: string): ContinuityCheckpoint {
    const s = this.streams.get(patientId);
    return { patientId, stream: s === undefined ? undefined : { ...s, recent: [...s.recent] } };
  }

  /** Put back a patient's state taken by `checkpoint`. */
  restore(checkpoint: ContinuityCheckpoint): void {
    if (checkpoint.stream === undefined) this.streams.delete(checkpoint.patientId);
    else
      this.streams.set(checkpoint.patientId, { ...checkpoint.stream, recent: [...checkpoint.stream.recent] });
  }

  /** Where the samples of a message belong; updates the patient's state unless the message is dropped. */
  place(
    patientId: string,
    message: { startTimeMs: number; sampleRateHz: number; sampleCount: number; controlId: string },
  ): Placement {
    const { startTimeMs, sampleRateHz: rate, sampleCount, controlId } = message;
    let s = this.streams.get(patientId);
    const remember = (stream: Stream) => {
      stream.recent.push(controlId);
      if (stream.recent.length > this.options.recentControlIds) stream.recent.shift();
    };
    if (s === undefined) {
      s = { rateHz: rate, originMs: startTimeMs, nextIndex: sampleCount, nextSequence: 1, recent: [] };
      remember(s);
      this.streams.set(patientId, s);
      return {
        kind: 'start',
        drop: false,
        firstSampleIndex: 0,
        skipSamples: 0,
        gapSamples: 0,
        sequenceNumber: 0,
        acquisitionTimeMs: startTimeMs,
        detail: `first message at ${rate} Hz`,
      };
    }
    // Dropped whole, the stream's state untouched: a retransmission, or samples all received before.
    const duplicate = (stream: Stream, detail: string): Placement => ({
      kind: 'duplicate',
      drop: true,
      firstSampleIndex: stream.nextIndex,
      skipSamples: sampleCount,
      gapSamples: 0,
      sequenceNumber: stream.nextSequence,
      acquisitionTimeMs: startTimeMs,
      detail,
    });
    if (s.recent.includes(controlId)) {
      return duplicate(s, `message ${controlId} was already received (retransmission); not published again`);
    }
    if (rate !== s.rateHz) {
      // A new segment at the new rate; the numbering stays increasing so that R-peak keys stay unique.
      const elapsedSeconds = (startTimeMs - s.originMs) / 1000 - s.nextIndex / s.rateHz;
      const first = Math.max(s.nextIndex + 1, Math.round(((startTimeMs - s.originMs) / 1000) * rate));
      const placed: Placement = {
        kind: 'rate-change',
        drop: false,
        firstSampleIndex: first,
        skipSamples: 0,
        gapSamples: 0,
        sequenceNumber: s.nextSequence,
        acquisitionTimeMs: startTimeMs,
        detail: `sampling rate changed from ${s.rateHz} Hz to ${rate} Hz (${elapsedSeconds.toFixed(3)} s after the previous message's end); a new segment starts`,
      };
      s.rateHz = rate;
      s.originMs = startTimeMs - (1000 * first) / rate;
      s.nextIndex = first + sampleCount;
      s.nextSequence++;
      remember(s);
      return placed;
    }
    const expected = ((startTimeMs - s.originMs) * rate) / 1000;
    const delta = expected - s.nextIndex;
    const tolerance = Math.max(1, this.options.toleranceSeconds * rate);
    let placed: Placement;
    if (Math.abs(delta) <= tolerance) {
      placed = {
        kind: 'contiguous',
        drop: false,
        firstSampleIndex: s.nextIndex,
        skipSamples: 0,
        gapSamples: 0,
        sequenceNumber: s.nextSequence,
        acquisitionTimeMs: startTimeMs,
        detail: '',
      };
      // Re-anchor on the device clock: jitter and drift never add up.
      s.originMs = startTimeMs - (1000 * s.nextIndex) / rate;
      s.nextIndex += sampleCount;
    } else if (delta > 0) {
      const gap = Math.round(delta);
      placed = {
        kind: 'gap',
        drop: false,
        firstSampleIndex: s.nextIndex + gap,
        skipSamples: 0,
        gapSamples: gap,
        sequenceNumber: s.nextSequence,
        acquisitionTimeMs: startTimeMs,
        detail: `${gap} samples (${(gap / rate).toFixed(3)} s) missing before this message`,
      };
      s.nextIndex += gap + sampleCount;
      s.originMs = startTimeMs - (1000 * placed.firstSampleIndex) / rate;
    } else {
      const overlap = Math.round(-delta);
      if (overlap >= sampleCount) {
        return duplicate(
          s,
          `all ${sampleCount} samples (${(sampleCount / rate).toFixed(3)} s) were already received; not published`,
        );
      }
      placed = {
        kind: 'overlap',
        drop: false,
        firstSampleIndex: s.nextIndex,
        skipSamples: overlap,
        gapSamples: 0,
        sequenceNumber: s.nextSequence,
        acquisitionTimeMs: startTimeMs + (1000 * overlap) / rate,
        detail: `the first ${overlap} samples (${(overlap / rate).toFixed(3)} s) repeat samples already received; dropped`,
      };
      s.nextIndex += sampleCount - overlap;
    }
    s.nextSequence++;
    remember(s);
    return placed;
  }
}
