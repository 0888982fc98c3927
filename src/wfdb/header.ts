/**
 * WFDB header (`.hea`) parser. It follows PhysioNet's header(5) specification and applies the same
 * defaults as the WFDB library, but it never guesses: a field that is present and malformed is an error
 * that names the file, the line and the field, and features this reader does not implement
 * (multi-segment records, skew) are refused with an "unsupported" error instead of being ignored.
 */
import { UnsupportedFormatError, WfdbFormatError } from '../errors';

/** WFDB's default ADC gain (adu per physical unit) when the header gives 0 or nothing. */
export const DEFAULT_ADC_GAIN = 200;
/** WFDB's default sampling frequency when the record line omits it. */
export const DEFAULT_SAMPLE_RATE_HZ = 250;
/** Default physical units. */
export const DEFAULT_UNITS = 'mV';

/** One signal line of a header, with WFDB defaults applied. */
export interface WfdbSignalSpec {
  /** Signal file name, relative to the header's directory. */
  fileName: string;
  /** Storage format code (212, 16, ...). */
  format: number;
  /** Samples of this signal in each frame (WFDB `spf`, 1 unless the format field says `x<n>`). */
  samplesPerFrame: number;
  /** Skew in samples (only 0 is supported by the signal reader). */
  skew: number;
  /** Bytes to skip at the start of the signal file before sample 0. */
  byteOffset: number;
  /** ADC units per physical unit; 200 when the header says 0 or nothing (see `adcGainIsDefault`). */
  adcGain: number;
  /** True when `adcGain` is WFDB's default rather than a value from the header. */
  adcGainIsDefault: boolean;
  /** Digital value of 0 physical units; defaults to `adcZero`. */
  baseline: number;
  /** Physical units, `mV` by default. */
  units: string;
  /** ADC resolution in bits; 0 in the header means "the format's default" (12 for 212, 16 for 16). */
  adcResolution: number;
  /** Digital value at the middle of the ADC range. */
  adcZero: number;
  /** Value of the first sample; defaults to `adcZero`. */
  initialValue: number;
  /** 16-bit signed sum of every sample of the signal, or undefined when the header does not give one. */
  checksum: number | undefined;
  /** Block size in bytes (0: not a block device). */
  blockSize: number;
  /** Signal description, e.g. `MLII`; WFDB's `record <name>, signal <i>` when absent. */
  description: string;
  /** 1-based line of the header this signal was read from. */
  line: number;
}

/** A parsed single-segment WFDB header. */
export interface WfdbHeader {
  /** Record name as written on the record line. */
  recordName: string;
  /** Samples per second per signal (of frames, when a signal has several samples per frame). */
  sampleRateHz: number;
  /** Counter frequency in Hz, when the record line gives one. */
  counterFrequencyHz: number | undefined;
  /** Counter value of sample 0, when given. */
  baseCounter: number | undefined;
  /** Frames in the record, or undefined when the header leaves it open (then the file length decides). */
  frameCount: number | undefined;
  /** Time of day of sample 0 as written (`HH:MM:SS[.sss]`), when given. */
  baseTime: string | undefined;
  /** Date of sample 0 as written (`DD/MM/YYYY`), when given. */
  baseDate: string | undefined;
  signals: WfdbSignalSpec[];
  /** Text of `#` comment lines (info strings), without the leading `#`. */
  comments: string[];
  /** The file this header came from (for error messages). */
  source: string;
}

const INT = /^[-+]?\d+$/;
const REAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Parse the text of a `.hea` file. `source` names the file in errors; when `expectedRecord` is given
 * the record name on the record line must match it, as WFDB requires.
 *
 * @example
 * const header = parseHeader(await fs.readFile('100.hea', 'latin1'), '100.hea', '100');
 * header.signals[0].description; // 'MLII'
 */
export function parseHeader(text: string, source: string, expectedRecord?: string): WfdbHeader {
  const comments: string[] = [];
  const lines: Array<{ text: string; line: number }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '') return;
    if (trimmed.startsWith('#')) {
      comments.push(trimmed.slice(1).trim());
      return;
    }
    lines.push({ text: trimmed, line: i + 1 });
  });
  if (lines.length === 0)
    throw new WfdbFormatError('no record line (the header is empty)', { source, line: 1 });

  const recordLine = lines[0];
  const header = parseRecordLine(recordLine.text, source, recordLine.line, expectedRecord);
  const signalCount = header.signalCount;
  if (lines.length - 1 < signalCount) {
    const last = lines[lines.length - 1].line;
    throw new WfdbFormatError(
      `the record line declares ${signalCount} signals but only ${lines.length - 1} signal lines follow`,
      {
        source,
        line: last,
      },
    );
  }
  if (lines.length - 1 > signalCount) {
    const extra = lines[signalCount + 1];
    throw new WfdbFormatError(
      `unexpected line after the ${signalCount} signal lines (expected a # comment or nothing)`,
      {
        source,
        line: extra.line,
      },
    );
  }
  const signals = lines.slice(1).map((l, i) => parseSignalLine(l.text, source, l.line, header.recordName, i));
  checkGroups(signals, source);
  return {
    recordName: header.recordName,
    sampleRateHz: header.sampleRateHz,
    counterFrequencyHz: header.counterFrequencyHz,
    baseCounter: header.baseCounter,
    frameCount: header.frameCount,
    baseTime: header.baseTime,
    baseDate: header.baseDate,
    signals,
    comments,
    source,
  };
}

interface RecordLine extends Omit<WfdbHeader, 'signals' | 'comments' | 'source'> {
  signalCount: number;
}

function parseRecordLine(text: string, source: string, line: number, expectedRecord?: string): RecordLine {
  const fields = text.split(/\s+/);
  const fail = (field: string, message: string): never => {
    throw new WfdbFormatError(message, { source, line, field });
  };
  if (fields.length > 6)
    fail(
      'record line',
      `expected at most 6 fields (name nsig fs nsamp basetime basedate), found ${fields.length}`,
    );

  const [nameField, nsigField, fsField, nsampField, timeField, dateField] = fields;
  const slash = nameField.indexOf('/');
  const recordName = slash >= 0 ? nameField.slice(0, slash) : nameField;
  if (slash >= 0) {
    const nseg = nameField.slice(slash + 1);
    if (!INT.test(nseg)) fail('record name', `expected name[/segments], found "${nameField}"`);
    throw new UnsupportedFormatError(`multi-segment record (${nseg} segments)`, {
      source,
      line,
      field: 'record name',
    });
  }
  if (recordName === '') fail('record name', 'the record name is empty');
  if (expectedRecord !== undefined && recordName !== expectedRecord) {
    fail('record name', `expected record "${expectedRecord}", the header names "${recordName}"`);
  }

  let signalCount = 0;
  if (nsigField !== undefined) {
    if (!/^\d+$/.test(nsigField))
      fail('number of signals', `expected a non-negative integer, found "${nsigField}"`);
    signalCount = Number(nsigField);
  }

  let sampleRateHz = DEFAULT_SAMPLE_RATE_HZ;
  let counterFrequencyHz: number | undefined;
  let baseCounter: number | undefined;
  if (fsField !== undefined) {
    const m = /^([^/(]+)(?:\/([^(]+))?(?:\(([^)]*)\))?$/.exec(fsField);
    if (m === null || !REAL.test(m[1])) {
      fail('sampling frequency', `expected fs[/counterfreq[(basecounter)]], found "${fsField}"`);
    } else {
      sampleRateHz = Number(m[1]);
      if (!(sampleRateHz > 0)) fail('sampling frequency', `expected a positive number, found "${m[1]}"`);
      if (m[2] !== undefined) {
        if (!REAL.test(m[2])) fail('counter frequency', `expected a number, found "${m[2]}"`);
        counterFrequencyHz = Number(m[2]);
      }
      if (m[3] !== undefined) {
        if (!REAL.test(m[3])) fail('base counter', `expected a number, found "${m[3]}"`);
        baseCounter = Number(m[3]);
      }
    }
  }

  let frameCount: number | undefined;
  if (nsampField !== undefined) {
    if (!/^\d+$/.test(nsampField))
      fail('number of samples', `expected a non-negative integer, found "${nsampField}"`);
    // 0 means "unknown" in WFDB: the length of the signal file decides.
    frameCount = Number(nsampField) === 0 ? undefined : Number(nsampField);
  }
  if (timeField !== undefined && !/^\d{1,2}(?::\d{1,2}){0,2}(?:\.\d+)?$/.test(timeField)) {
    fail('base time', `expected HH:MM:SS[.sss], found "${timeField}"`);
  }
  if (dateField !== undefined && !/^\d{1,2}\/\d{1,2}\/\d{1,4}$/.test(dateField)) {
    fail('base date', `expected DD/MM/YYYY, found "${dateField}"`);
  }
  return {
    recordName,
    signalCount,
    sampleRateHz,
    counterFrequencyHz,
    baseCounter,
    frameCount,
    baseTime: timeField,
    baseDate: dateField,
  };
}

function parseSignalLine(
  text: string,
  source: string,
  line: number,
  recordName: string,
  index: number,
): WfdbSignalSpec {
  const fail = (field: string, message: string): never => {
    throw new WfdbFormatError(message, { source, line, field });
  };
  // The description is the rest of the line after the eighth field and may contain spaces.
  const fields: string[] = [];
  let rest = text;
  while (fields.length < 8 && rest !== '') {
    const m = /^(\S+)\s*/.exec(rest);
    if (m === null) break;
    fields.push(m[1]);
    rest = rest.slice(m[0].length);
  }
  const description = rest.trim() !== '' ? rest.trim() : `record ${recordName}, signal ${index}`;
  const [fileName, formatField, gainField, resField, zeroField, initField, sumField, blockField] = fields;
  if (formatField === undefined) fail('format', `expected "file format ...", found "${text}"`);

  const fm = /^(\d+)(?:x(\d+))?(?::(\d+))?(?:\+(\d+))?$/.exec(formatField);
  if (fm === null) {
    return fail('format', `expected format[xspf][:skew][+offset], found "${formatField}"`);
  }
  const format = Number(fm[1]);
  const samplesPerFrame = fm[2] === undefined ? 1 : Number(fm[2]);
  if (samplesPerFrame < 1) fail('format', `samples per frame must be at least 1, found "${formatField}"`);
  const skew = fm[3] === undefined ? 0 : Number(fm[3]);
  const byteOffset = fm[4] === undefined ? 0 : Number(fm[4]);

  const int = (value: string | undefined, field: string): number | undefined => {
    if (value === undefined) return undefined;
    if (!INT.test(value)) fail(field, `expected an integer, found "${value}"`);
    return Number(value);
  };

  let adcGain = 0;
  let baselineField: number | undefined;
  let units = DEFAULT_UNITS;
  if (gainField !== undefined) {
    const gm = /^([^(/]+)(?:\(([^)]*)\))?(?:\/(.+))?$/.exec(gainField);
    if (gm === null || !REAL.test(gm[1])) {
      fail('gain', `expected gain[(baseline)][/units], found "${gainField}"`);
    } else {
      adcGain = Number(gm[1]);
      if (gm[2] !== undefined) baselineField = int(gm[2], 'baseline');
      if (gm[3] !== undefined) units = gm[3];
    }
  }
  if (adcGain < 0) fail('gain', `expected a non-negative gain, found "${gainField}"`);
  const adcGainIsDefault = adcGain === 0;
  if (adcGainIsDefault) adcGain = DEFAULT_ADC_GAIN;

  const defaultResolution = format === 212 ? 12 : format === 16 ? 16 : 0;
  const rawResolution = int(resField, 'ADC resolution') ?? 0;
  const adcResolution = rawResolution === 0 ? defaultResolution : rawResolution;
  const adcZero = int(zeroField, 'ADC zero') ?? 0;
  const initialValue = int(initField, 'initial value') ?? adcZero;
  const checksum = int(sumField, 'checksum');
  const blockSize = int(blockField, 'block size') ?? 0;
  return {
    fileName,
    format,
    samplesPerFrame,
    skew,
    byteOffset,
    adcGain,
    adcGainIsDefault,
    baseline: baselineField ?? adcZero,
    units,
    adcResolution,
    adcZero,
    initialValue,
    checksum,
    blockSize,
    description,
    line,
  };
}

/**
 * Signals stored in one file form a WFDB group: they must be on consecutive lines and share format and
 * byte offset, otherwise the interleaving is ambiguous.
 */
function checkGroups(signals: WfdbSignalSpec[], source: string): void {
  const seen = new Set<string>();
  for (let i = 0; i < signals.length; i++) {
    const s = signals[i];
    const prev = i > 0 ? signals[i - 1] : undefined;
    if (prev !== undefined && prev.fileName === s.fileName) {
      if (prev.format !== s.format) {
        throw new WfdbFormatError(
          `signals in ${s.fileName} have different formats (${prev.format} and ${s.format})`,
          {
            source,
            line: s.line,
            field: 'format',
          },
        );
      }
      if (prev.byteOffset !== s.byteOffset) {
        throw new WfdbFormatError(`signals in ${s.fileName} have different byte offsets`, {
          source,
          line: s.line,
          field: 'format',
        });
      }
      continue;
    }
    if (seen.has(s.fileName)) {
      throw new WfdbFormatError(`signals stored in ${s.fileName} are not on consecutive lines`, {
        source,
        line: s.line,
        field: 'file',
      });
    }
    seen.add(s.fileName);
  }
}
