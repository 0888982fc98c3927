/**
 * Reader for WFDB annotation files in MIT format (`.atr` and other annotators). It decodes the same way
 * as WFDB's `getann`: SKIP words advance the time of the next annotation, NUM and CHN set the number and
 * channel of this and all later annotations, SUB and AUX belong to the annotation just before them. A file
 * that ends before its end-of-file word, or in the middle of a word or an AUX string, is an error that
 * gives the byte offset; nothing is silently cut short.
 */
import { WfdbFormatError } from '../errors';

/** One annotation, with fields as in WFDB's `WFDB_Annotation`. */
export interface Annotation {
  /** Sample number (time) the annotation refers to. */
  sample: number;
  /** Annotation code (1..49 in the standard table, see `ANNOTATION_SYMBOLS`). */
  code: number;
  /** WFDB mnemonic for `code`, e.g. `N`, `V`, `+`; `[n]` for codes without one. */
  symbol: string;
  /** Subtype, a signed 8-bit value as in WFDB (noise `~` uses -1 for "unreadable"). */
  subtype: number;
  /** Signal (channel) number, unsigned 8-bit. */
  chan: number;
  /** Annotator-defined number, signed 8-bit. */
  num: number;
  /** Auxiliary text (rhythm names such as `(AFIB`), trailing NULs removed; absent when there is none. */
  aux?: string;
}

/** MIT-format code field values above the annotation codes. */
export const SKIP = 59;
export const NUM = 60;
export const SUB = 61;
export const CHN = 62;
export const AUX = 63;
/** Largest code WFDB treats as an annotation type (codes 50..58 are read as annotations too). */
export const ACMAX = 49;

/**
 * WFDB mnemonics by annotation code, as in WFDB's `ecgcodes.h` and `annstr()`: index = code. Codes
 * without a standard mnemonic (15, 17, 42..49) are shown as `[n]`, as WFDB does.
 */
// prettier-ignore
export const ANNOTATION_SYMBOLS: readonly string[] = [
  ' ', 'N', 'L', 'R', 'a', 'V', 'F', 'J', 'A', 'S', // 0-9
  'E', 'j', '/', 'Q', '~', '[15]', '|', '[17]', 's', 'T', // 10-19
  '*', 'D', '"', '=', 'p', 'B', '^', 't', '+', 'u', // 20-29
  '?', '!', '[', ']', 'e', 'n', '@', 'x', 'f', '(', // 30-39
  ')', 'r', '[42]', '[43]', '[44]', '[45]', '[46]', '[47]', '[48]', '[49]', // 40-49
];

/** The mnemonic of an annotation code (`[n]` when it has none). */
export function annotationSymbol(code: number): string {
  return ANNOTATION_SYMBOLS[code] ?? `[${code}]`;
}

/** The annotation code of a mnemonic, or undefined when it is not in the standard table. */
export function annotationCode(symbol: string): number | undefined {
  const code = ANNOTATION_SYMBOLS.indexOf(symbol);
  return code > 0 && !/^\[\d+\]$/.test(symbol) ? code : undefined;
}

const int8 = (v: number): number => ((v & 0xff) << 24) >> 24;

/**
 * Decode an MIT-format annotation file. `source` names the file in errors.
 *
 * @example
 * const annotations = parseAnnotations(await fs.readFile('100.atr'), '100.atr');
 * annotations.filter((a) => a.symbol === 'V').length; // 1
 */
export function parseAnnotations(data: Uint8Array, source: string): Annotation[] {
  const out: Annotation[] = [];
  const n = data.length;
  let p = 0;
  let time = 0;
  let chan = 0;
  let num = 0;
  let current: Annotation | undefined;

  const truncated = (what: string, needed: number): never => {
    throw new WfdbFormatError(
      `file is truncated: ${what} needs bytes up to offset ${needed}, the file has ${n}`,
      {
        source,
        byteOffset: n,
      },
    );
  };

  for (;;) {
    if (p + 2 > n) {
      if (p === n) truncated('the end-of-file word (0x0000)', p + 2);
      truncated('a 16-bit word', p + 2);
    }
    const word = data[p] | (data[p + 1] << 8);
    const at = p;
    p += 2;
    const code = word >> 10;
    const value = word & 0x3ff;
    if (word === 0) break;
    switch (code) {
      case SKIP: {
        if (p + 4 > n) truncated('the 32-bit interval of a SKIP word', p + 4);
        // The interval is stored high 16-bit word first, each word little-endian.
        const high = data[p] | (data[p + 1] << 8);
        const low = data[p + 2] | (data[p + 3] << 8);
        time += (high << 16) | low;
        p += 4;
        break;
      }
      case NUM:
        num = int8(value);
        if (current !== undefined) current.num = num;
        break;
      case CHN:
        chan = value & 0xff;
        if (current !== undefined) current.chan = chan;
        break;
      case SUB:
        if (current === undefined) {
          throw new WfdbFormatError('SUB word before the first annotation', { source, byteOffset: at });
        }
        current.subtype = int8(value);
        break;
      case AUX: {
        const length = value & 0xff;
        const padded = length + (length & 1);
        if (p + padded > n) truncated(`an AUX string of ${length} bytes`, p + padded);
        if (current === undefined) {
          throw new WfdbFormatError('AUX word before the first annotation', { source, byteOffset: at });
        }
        let end = p + length;
        while (end > p && data[end - 1] === 0) end--;
        current.aux = Buffer.from(data.buffer, data.byteOffset + p, end - p).toString('latin1');
        p += padded;
        break;
      }
      default:
        // Codes 0..58: an annotation at time += value (WFDB reads 50..58 and code 0 this way too).
        time += value;
        current = { sample: time, code, symbol: annotationSymbol(code), subtype: 0, chan, num };
        out.push(current);
    }
  }
  return out;
}
