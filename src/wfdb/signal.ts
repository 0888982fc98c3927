/**
 * Decoders for WFDB signal files (formats 212 and 16) and the checks WFDB headers make possible: file
 * length, first sample against `initval`, and the 16-bit checksum. Everything works on typed arrays; a
 * 30-minute two-channel record decodes in a few milliseconds.
 */
import { ChecksumMismatchError, UnsupportedFormatError, WfdbFormatError } from '../errors';
import type { WfdbSignalSpec } from './header';

/** Signal storage formats this reader decodes. */
export const SUPPORTED_FORMATS: readonly number[] = [212, 16];

/** The signals of one WFDB group: consecutive header lines that share a signal file. */
export interface SignalGroup {
  fileName: string;
  format: number;
  byteOffset: number;
  /** Indices into the header's signal list. */
  signalIndices: number[];
}

/** Split a header's signals into groups, in header order. */
export function signalGroups(signals: readonly WfdbSignalSpec[]): SignalGroup[] {
  const groups: SignalGroup[] = [];
  signals.forEach((s, i) => {
    const last = groups[groups.length - 1];
    if (last !== undefined && last.fileName === s.fileName) last.signalIndices.push(i);
    else
      groups.push({ fileName: s.fileName, format: s.format, byteOffset: s.byteOffset, signalIndices: [i] });
  });
  return groups;
}

/** Bytes that `sampleCount` interleaved samples occupy in `format` (212 ends with 2 bytes for an odd sample). */
export function bytesForSamples(format: number, sampleCount: number): number {
  if (format === 16) return sampleCount * 2;
  if (format === 212) return Math.floor(sampleCount / 2) * 3 + (sampleCount % 2) * 2;
  throw new UnsupportedFormatError(String(format), {});
}

/** Whole samples that `byteCount` bytes hold in `format`. */
export function samplesInBytes(format: number, byteCount: number): number {
  if (format === 16) return Math.floor(byteCount / 2);
  if (format === 212) return Math.floor(byteCount / 3) * 2 + (byteCount % 3 >= 2 ? 1 : 0);
  throw new UnsupportedFormatError(String(format), {});
}

/**
 * Decode one group's signal file into one `Int16Array` per signal of the group (digital values, as
 * stored; WFDB's invalid-sample markers, -2048 in 212 and -32768 in 16, are kept as they are). `frameCount` frames are decoded starting at the group's byte offset; when it is undefined the
 * file length decides, as in WFDB. A file too short for `frameCount` frames is a `WfdbFormatError` that
 * gives the byte offset the data should have reached and the actual length. Bytes after the last frame
 * are ignored, as WFDB does.
 */
export function decodeGroup(
  data: Uint8Array,
  specs: readonly WfdbSignalSpec[],
  frameCount: number | undefined,
  source: string,
): Int16Array[] {
  if (specs.length === 0) return [];
  const first = specs[0];
  const format = first.format;
  for (const s of specs) {
    if (!SUPPORTED_FORMATS.includes(s.format)) {
      throw new UnsupportedFormatError(String(s.format), { source, line: s.line, field: 'format' });
    }
    if (s.skew !== 0) {
      throw new UnsupportedFormatError(`${s.format}:${s.skew} (skew ${s.skew} is not implemented)`, {
        source,
        line: s.line,
        field: 'format',
      });
    }
  }
  // Frame layout: each signal contributes samplesPerFrame consecutive samples per frame.
  const frameSamples = specs.reduce((n, s) => n + s.samplesPerFrame, 0);
  const start = first.byteOffset;
  const available = Math.max(0, data.length - start);
  const frames = frameCount ?? Math.floor(samplesInBytes(format, available) / frameSamples);
  const totalSamples = frames * frameSamples;
  const needed = bytesForSamples(format, totalSamples);
  if (data.length < start + needed) {
    throw new WfdbFormatError(
      `file is truncated: ${frames} frames of ${frameSamples} samples in format ${format} need bytes up to offset ${start + needed}, the file has ${data.length}`,
      { source, byteOffset: data.length },
    );
  }

  const outputs = specs.map((s) => new Int16Array(frames * s.samplesPerFrame));
  // For each position in a frame: which output it goes to and at which offset within that frame.
  const target: Int16Array[] = [];
  const slot: number[] = [];
  const stride: number[] = [];
  specs.forEach((s, k) => {
    for (let j = 0; j < s.samplesPerFrame; j++) {
      target.push(outputs[k]);
      slot.push(j);
      stride.push(s.samplesPerFrame);
    }
  });

  if (frameSamples === specs.length) decodeSimple(data, start, format, outputs, frames);
  else decodeGeneral(data, start, format, totalSamples, frameSamples, target, slot, stride);
  return outputs;
}

/** Fast path: one sample per signal per frame (the usual case). */
function decodeSimple(
  data: Uint8Array,
  start: number,
  format: number,
  outputs: Int16Array[],
  frames: number,
): void {
  const nsig = outputs.length;
  const total = frames * nsig;
  if (format === 16) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let p = start;
    if (nsig === 1) {
      const out = outputs[0];
      for (let f = 0; f < frames; f++, p += 2) out[f] = view.getInt16(p, true);
      return;
    }
    for (let f = 0; f < frames; f++) {
      for (let s = 0; s < nsig; s++, p += 2) outputs[s][f] = view.getInt16(p, true);
    }
    return;
  }
  // Format 212: bytes b0 b1 b2 hold s0 = b0 | (b1 & 0x0F) << 8 and s1 = b2 | (b1 & 0xF0) << 4, 12-bit two's complement.
  if (nsig === 2) {
    const a = outputs[0];
    const b = outputs[1];
    let p = start;
    for (let f = 0; f < frames; f++, p += 3) {
      const b1 = data[p + 1];
      a[f] = ((data[p] | ((b1 & 0x0f) << 8)) << 20) >> 20;
      b[f] = ((data[p + 2] | ((b1 & 0xf0) << 4)) << 20) >> 20;
    }
    return;
  }
  let p = start;
  let k = 0;
  let f = 0;
  let s = 0;
  while (k < total) {
    const b1 = data[p + 1];
    outputs[s][f] = ((data[p] | ((b1 & 0x0f) << 8)) << 20) >> 20;
    k++;
    if (++s === nsig) {
      s = 0;
      f++;
    }
    if (k === total) break;
    outputs[s][f] = ((data[p + 2] | ((b1 & 0xf0) << 4)) << 20) >> 20;
    k++;
    if (++s === nsig) {
      s = 0;
      f++;
    }
    p += 3;
  }
}

/** General path: signals with several samples per frame. */
function decodeGeneral(
  data: Uint8Array,
  start: number,
  format: number,
  totalSamples: number,
  frameSamples: number,
  target: Int16Array[],
  slot: number[],
  stride: number[],
): void {
  let pos = 0;
  let frame = 0;
  const put = (value: number): void => {
    target[pos][frame * stride[pos] + slot[pos]] = value;
    if (++pos === frameSamples) {
      pos = 0;
      frame++;
    }
  };
  if (format === 16) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let k = 0, p = start; k < totalSamples; k++, p += 2) put(view.getInt16(p, true));
    return;
  }
  for (let k = 0, p = start; k < totalSamples; p += 3) {
    const b1 = data[p + 1];
    put(((data[p] | ((b1 & 0x0f) << 8)) << 20) >> 20);
    if (++k === totalSamples) break;
    put(((data[p + 2] | ((b1 & 0xf0) << 4)) << 20) >> 20);
    k++;
  }
}

/** The WFDB checksum of a signal: the sum of all its samples, wrapped to a 16-bit signed integer. */
export function checksum16(samples: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i];
  // Exact while |sum| < 2^53, i.e. for any file that fits in memory.
  return (sum << 16) >> 16;
}

/**
 * Compare a decoded signal with its header: the first sample must equal `initval` and the checksum must
 * match (when the header gives one). Returns the problems found, as errors, without throwing, so callers
 * can either throw the first one or report them all.
 */
export function checkSignal(
  samples: Int16Array,
  spec: WfdbSignalSpec,
  signalIndex: number,
  source: string,
): ChecksumMismatchError[] {
  const problems: ChecksumMismatchError[] = [];
  const where = { source, line: spec.line, field: `signal ${signalIndex} (${spec.description})` };
  if (samples.length > 0 && samples[0] !== spec.initialValue) {
    problems.push(
      new ChecksumMismatchError(
        `first sample is ${samples[0]}, the header's initial value is ${spec.initialValue}`,
        where,
      ),
    );
  }
  if (spec.checksum !== undefined) {
    const actual = checksum16(samples);
    if (actual !== spec.checksum) {
      problems.push(
        new ChecksumMismatchError(
          `checksum of the samples is ${actual}, the header says ${spec.checksum}`,
          where,
        ),
      );
    }
  }
  return problems;
}

/**
 * Convert digital samples to physical units: `(digital - baseline) / gain` (mV for ECG leads). Writes into
 * `out` when given (it must be at least as long), so callers can reuse one buffer per window.
 */
export function toPhysical(
  digital: Int16Array,
  spec: Pick<WfdbSignalSpec, 'adcGain' | 'baseline'>,
  out: Float32Array = new Float32Array(digital.length),
): Float32Array {
  if (out.length < digital.length) {
    throw new RangeError(`output buffer holds ${out.length} samples, ${digital.length} needed`);
  }
  const { baseline, adcGain } = spec;
  for (let i = 0; i < digital.length; i++) out[i] = (digital[i] - baseline) / adcGain;
  return out;
}
