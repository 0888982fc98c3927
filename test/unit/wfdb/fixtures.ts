/**
 * Test helpers: where the MIT-BIH data is (from ECGFLOW_DATA_DIR, never a fixed path) and small WFDB
 * writers for synthetic records, so round-trip tests do not depend on the reader they test.
 */
import { scratchDir } from '../../helpers/scratch';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export { requireDataDir } from '../../helpers/env';

export async function tempDir(prefix = 'ecgflow-wfdb-'): Promise<string> {
  return Promise.resolve(scratchDir(prefix));
}

/** Copy `<record>.*` (hea, dat, atr) from `from` to `to`. */
export async function copyRecord(from: string, to: string, record: string): Promise<void> {
  for (const ext of ['hea', 'dat', 'atr']) {
    await fs.copyFile(path.join(from, `${record}.${ext}`), path.join(to, `${record}.${ext}`));
  }
}

/** Interleaved samples -> format 212 bytes (an odd final sample takes 2 bytes, as WFDB writes it). */
export function encode212(samples: ArrayLike<number>): Buffer {
  const n = samples.length;
  const out = Buffer.alloc(Math.floor(n / 2) * 3 + (n % 2) * 2);
  for (let k = 0, p = 0; k < n; k += 2, p += 3) {
    const s0 = samples[k] & 0xfff;
    out[p] = s0 & 0xff;
    if (k + 1 < n) {
      const s1 = samples[k + 1] & 0xfff;
      out[p + 1] = (s0 >> 8) | ((s1 >> 8) << 4);
      out[p + 2] = s1 & 0xff;
    } else {
      out[p + 1] = s0 >> 8;
    }
  }
  return out;
}

/** Interleaved samples -> format 16 bytes (little-endian int16). */
export function encode16(samples: ArrayLike<number>): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let k = 0; k < samples.length; k++) out.writeInt16LE(samples[k], k * 2);
  return out;
}

/** 16-bit signed sum, computed independently of the reader. */
export function checksum(samples: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum = (sum + samples[i]) & 0xffff;
  return sum >= 0x8000 ? sum - 0x10000 : sum;
}

export interface SyntheticSignal {
  samples: Int16Array;
  description: string;
  samplesPerFrame?: number;
  gain?: number;
  baseline?: number;
  units?: string;
  adcZero?: number;
}

/**
 * Write `<name>.hea` and `<name>.dat` for signals stored in one file in `format`; returns the header text.
 * Signals with several samples per frame are interleaved frame by frame as WFDB does.
 */
export async function writeRecord(
  dir: string,
  name: string,
  sampleRateHz: number,
  format: 16 | 212,
  signals: SyntheticSignal[],
): Promise<string> {
  const spf = signals.map((s) => s.samplesPerFrame ?? 1);
  const frames = signals[0].samples.length / spf[0];
  const flat: number[] = [];
  for (let f = 0; f < frames; f++) {
    signals.forEach((s, i) => {
      for (let j = 0; j < spf[i]; j++) flat.push(s.samples[f * spf[i] + j]);
    });
  }
  const data = format === 212 ? encode212(flat) : encode16(flat);
  await fs.writeFile(path.join(dir, `${name}.dat`), data);
  const lines = [`${name} ${signals.length} ${sampleRateHz} ${frames}`];
  signals.forEach((s, i) => {
    const fmt = spf[i] > 1 ? `${format}x${spf[i]}` : `${format}`;
    const gain = `${s.gain ?? 200}${s.baseline !== undefined ? `(${s.baseline})` : ''}${s.units !== undefined ? `/${s.units}` : ''}`;
    const adcres = format === 212 ? 12 : 16;
    lines.push(
      `${name}.dat ${fmt} ${gain} ${adcres} ${s.adcZero ?? 0} ${s.samples[0]} ${checksum(s.samples)} 0 ${s.description}`,
    );
  });
  const text = `${lines.join('\r\n')}\r\n# synthetic record written by the ecgflow tests\r\n`;
  await fs.writeFile(path.join(dir, `${name}.hea`), text);
  return text;
}

export interface SyntheticAnnotation {
  sample: number;
  code: number;
  subtype?: number;
  chan?: number;
  num?: number;
  aux?: string;
}

/**
 * MIT-format annotation writer in the manner of WFDB's `putann`: SKIP for long or negative intervals,
 * SUB when the subtype is not 0, CHN/NUM when they change, AUX with a pad byte for odd lengths.
 */
export function encodeAnnotations(annotations: SyntheticAnnotation[]): Buffer {
  const bytes: number[] = [];
  const word = (w: number): void => {
    bytes.push(w & 0xff, (w >> 8) & 0xff);
  };
  let time = 0;
  let chan = 0;
  let num = 0;
  for (const a of annotations) {
    let delta = a.sample - time;
    if (delta > 1023 || delta < 0) {
      word(59 << 10);
      const v = delta | 0;
      word((v >>> 16) & 0xffff);
      word(v & 0xffff);
      delta = 0;
    }
    word((a.code << 10) | delta);
    time = a.sample;
    if ((a.subtype ?? 0) !== 0) word((61 << 10) | ((a.subtype ?? 0) & 0x3ff));
    if ((a.chan ?? 0) !== chan) {
      chan = a.chan ?? 0;
      word((62 << 10) | chan);
    }
    if ((a.num ?? 0) !== num) {
      num = a.num ?? 0;
      word((60 << 10) | (num & 0x3ff));
    }
    if (a.aux !== undefined) {
      const text = Buffer.from(a.aux, 'latin1');
      word((63 << 10) | text.length);
      bytes.push(...text);
      if (text.length % 2 === 1) bytes.push(0);
    }
  }
  word(0);
  return Buffer.from(bytes);
}
