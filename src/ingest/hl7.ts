/**
 * HL7 v2 messages: parsing into segments and fields, validation of the message header, and the
 * acknowledgement (ACK) that answers every message. Only what the bedside gateway needs, but exact about
 * it: segments are separated by carriage returns (a line feed after one, or instead of one, is tolerated,
 * as many gateways send them); the field separator and encoding characters come from MSH-1 and MSH-2 and
 * must be the standard `|` and `^~\&` that IHE PCD-01 requires; escape sequences (\F\ \S\ \T\ \R\ \E\
 * and \Xhh..\) are decoded in values. Fields are numbered as HL7 numbers them: for MSH, field 1 is the
 * field separator itself and field 2 the encoding characters.
 *
 * Every problem is an `Hl7Error` that names the segment and field and carries the acknowledgement code to
 * answer with: `AR` (reject: not HL7, wrong encoding, unsupported message type or version; resending will
 * not help) or `AE` (error: the message is HL7 but its content cannot be used) and the HL7 error code of
 * table 0357.
 */
import { EcgflowError } from '../errors';

export type AckCode = 'AA' | 'AE' | 'AR';

/** HL7 table 0357 (message error condition codes) entries used here. */
export const HL7_ERROR = {
  segmentSequence: '100',
  requiredFieldMissing: '101',
  dataType: '102',
  tableValueNotFound: '103',
  unsupportedMessageType: '200',
  unsupportedVersion: '203',
  unknownKey: '204',
  applicationInternal: '207',
} as const;

export class Hl7Error extends EcgflowError {
  constructor(
    readonly ackCode: 'AE' | 'AR',
    readonly hl7ErrorCode: string,
    message: string,
    readonly where: { segment?: string; field?: number; component?: number } = {},
    code = ackCode === 'AR' ? 'HL7_REJECTED' : 'HL7_INVALID',
  ) {
    super(
      code,
      message,
      where.segment === undefined
        ? {}
        : {
            field: `${where.segment}${where.field === undefined ? '' : `-${where.field}`}${where.component === undefined ? '' : `.${where.component}`}`,
          },
    );
  }
}

export interface Hl7Encoding {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export const STANDARD_ENCODING: Hl7Encoding = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
};

export interface Hl7Segment {
  name: string;
  /** fields[n] is field n as HL7 numbers it (fields[0] is the segment name), raw (not unescaped). */
  fields: string[];
}

export interface Hl7Message {
  encoding: Hl7Encoding;
  segments: Hl7Segment[];
  /** MSH-10, the message control id that the ACK echoes. */
  controlId: string;
  /** MSH-9 components: e.g. ORU, R01. */
  messageType: string;
  triggerEvent: string;
  /** MSH-12. */
  version: string;
  sendingApplication: string;
  sendingFacility: string;
  receivingApplication: string;
  receivingFacility: string;
}

/** Split into segments: CR, CRLF or LF; empty lines dropped. */
export function splitSegments(text: string): string[] {
  return text.split(/\r\n|\r|\n/).filter((s) => s.trim() !== '');
}

/** Field `n` of a segment (HL7 numbering), '' when absent. */
export function field(segment: Hl7Segment, n: number): string {
  return segment.fields[n] ?? '';
}

/** Component `k` (1-based) of the first repetition of a raw field value, unescaped. */
export function component(value: string, k: number, enc: Hl7Encoding = STANDARD_ENCODING): string {
  const first = value.split(enc.repetition)[0];
  return unescapeHl7(first.split(enc.component)[k - 1] ?? '', enc);
}

/** Decode HL7 escape sequences. Unknown sequences are kept as they are. */
export function unescapeHl7(value: string, enc: Hl7Encoding = STANDARD_ENCODING): string {
  if (!value.includes(enc.escape)) return value;
  const e = enc.escape;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (c !== e) {
      out += c;
      i++;
      continue;
    }
    const close = value.indexOf(e, i + 1);
    if (close < 0) {
      out += value.slice(i);
      break;
    }
    const seq = value.slice(i + 1, close);
    switch (seq) {
      case 'F':
        out += enc.field;
        break;
      case 'S':
        out += enc.component;
        break;
      case 'T':
        out += enc.subcomponent;
        break;
      case 'R':
        out += enc.repetition;
        break;
      case 'E':
        out += enc.escape;
        break;
      default:
        if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) out += Buffer.from(seq.slice(1), 'hex').toString('latin1');
        else out += `${e}${seq}${e}`;
    }
    i = close + 1;
  }
  return out;
}

/** Escape text for a field value (ACK error texts). */
export function escapeHl7(text: string, enc: Hl7Encoding = STANDARD_ENCODING): string {
  let out = '';
  for (const c of text) {
    if (c === enc.escape) out += `${enc.escape}E${enc.escape}`;
    else if (c === enc.field) out += `${enc.escape}F${enc.escape}`;
    else if (c === enc.component) out += `${enc.escape}S${enc.escape}`;
    else if (c === enc.subcomponent) out += `${enc.escape}T${enc.escape}`;
    else if (c === enc.repetition) out += `${enc.escape}R${enc.escape}`;
    else if (c === '\r' || c === '\n') out += ' ';
    else out += c;
  }
  return out;
}

export interface ParseOptions {
  /** Message types accepted (MSH-9.1^MSH-9.2). Default ORU^R01. */
  acceptedTypes?: readonly string[];
}

/**
 * Parse and validate the envelope of an HL7 v2 message. Throws `Hl7Error` (AR) when there is no MSH
 * segment first, the separators are not the standard ones, the type is not accepted, MSH-10 is empty, or
 * the version is not 2.x.
 */
export function parseHl7(text: string, options: ParseOptions = {}): Hl7Message {
  const lines = splitSegments(text.replace(/^\uFEFF/, ''));
  if (lines.length === 0) throw new Hl7Error('AR', HL7_ERROR.segmentSequence, 'empty message');
  const first = lines[0];
  if (!first.startsWith('MSH')) {
    throw new Hl7Error(
      'AR',
      HL7_ERROR.segmentSequence,
      `the message must start with an MSH segment, found "${first.slice(0, 12)}"`,
      { segment: first.slice(0, 3) },
    );
  }
  const fieldSep = first[3];
  if (fieldSep !== STANDARD_ENCODING.field) {
    throw new Hl7Error(
      'AR',
      HL7_ERROR.dataType,
      `field separator (MSH-1) is ${JSON.stringify(fieldSep ?? '')}, PCD-01 requires "|"`,
      { segment: 'MSH', field: 1 },
    );
  }
  const mshFields = first.split(fieldSep);
  const encodingChars = mshFields[1] ?? '';
  if (encodingChars !== '^~\\&' && encodingChars !== '^~\\&#') {
    throw new Hl7Error(
      'AR',
      HL7_ERROR.dataType,
      `encoding characters (MSH-2) are ${JSON.stringify(encodingChars)}, PCD-01 requires "^~\\&"`,
      { segment: 'MSH', field: 2 },
    );
  }
  const enc = STANDARD_ENCODING;
  const segments: Hl7Segment[] = lines.map((line, index) => {
    const name = line.slice(0, 3);
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name) || (line.length > 3 && line[3] !== fieldSep)) {
      throw new Hl7Error(
        'AR',
        HL7_ERROR.segmentSequence,
        `segment ${index + 1} does not start with a segment name and a field separator: "${line.slice(0, 12)}"`,
        { segment: name },
      );
    }
    if (index === 0) return { name, fields: ['MSH', fieldSep, ...mshFields.slice(1)] };
    if (name === 'MSH')
      throw new Hl7Error(
        'AR',
        HL7_ERROR.segmentSequence,
        `a second MSH segment (segment ${index + 1}): one message per frame`,
        { segment: 'MSH' },
      );
    return { name, fields: line.split(fieldSep) };
  });
  const msh = segments[0];
  const type = field(msh, 9);
  const messageType = component(type, 1, enc);
  const triggerEvent = component(type, 2, enc);
  const accepted = options.acceptedTypes ?? ['ORU^R01'];
  const controlId = unescapeHl7(field(msh, 10), enc);
  const version = component(field(msh, 12), 1, enc);
  const envelope: Hl7Message = {
    encoding: enc,
    segments,
    controlId,
    messageType,
    triggerEvent,
    version,
    sendingApplication: field(msh, 3),
    sendingFacility: field(msh, 4),
    receivingApplication: field(msh, 5),
    receivingFacility: field(msh, 6),
  };
  if (!accepted.includes(`${messageType}^${triggerEvent}`)) {
    throw new Hl7Error(
      'AR',
      HL7_ERROR.unsupportedMessageType,
      `message type ${messageType || '(empty)'}^${triggerEvent || '(empty)'} is not accepted (expected ${accepted.join(', ')})`,
      { segment: 'MSH', field: 9 },
    );
  }
  if (controlId === '')
    throw new Hl7Error('AR', HL7_ERROR.requiredFieldMissing, 'message control id (MSH-10) is empty', {
      segment: 'MSH',
      field: 10,
    });
  if (!/^2\.\d/.test(version)) {
    throw new Hl7Error(
      'AR',
      HL7_ERROR.unsupportedVersion,
      `version (MSH-12) ${JSON.stringify(version)} is not HL7 v2.x (PCD-01 uses 2.6)`,
      { segment: 'MSH', field: 12 },
    );
  }
  return envelope;
}

/**
 * The MSH of a message that failed to parse, as far as it can be read: enough to address the NAK and
 * echo the control id. Never throws.
 */
export function readEnvelopeLeniently(
  text: string,
): Partial<
  Pick<
    Hl7Message,
    'controlId' | 'sendingApplication' | 'sendingFacility' | 'receivingApplication' | 'receivingFacility'
  >
> {
  const first = splitSegments(text)[0] ?? '';
  if (!first.startsWith('MSH') || first.length < 4) return {};
  const f = first.split(first[3]);
  // f[0] = 'MSH', f[1] = MSH-2, so MSH-n is f[n - 1].
  return {
    sendingApplication: f[2],
    sendingFacility: f[3],
    receivingApplication: f[4],
    receivingFacility: f[5],
    controlId: f[9],
  };
}

/** HL7 DTM (YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]) to epoch milliseconds; no offset means UTC. */
export function parseHl7Time(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$/.exec(
    value.trim(),
  );
  if (m === null) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac, tz] = m;
  const ms = frac === undefined ? 0 : Math.round(Number(`0.${frac}`) * 1000);
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (Number.isNaN(t)) return undefined;
  const check = new Date(t);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (tz !== undefined) {
    const sign = tz[0] === '-' ? -1 : 1;
    t -= sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5))) * 60_000;
  }
  return t;
}

/** Epoch milliseconds as HL7 DTM in UTC with milliseconds and an explicit +0000 offset. */
export function formatHl7Time(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`;
}

export interface AckOptions {
  code: AckCode;
  /** The original message's envelope (as far as known). */
  original: Partial<
    Pick<
      Hl7Message,
      | 'controlId'
      | 'sendingApplication'
      | 'sendingFacility'
      | 'receivingApplication'
      | 'receivingFacility'
      | 'triggerEvent'
      | 'version'
    >
  >;
  /** Error text for AE / AR. */
  text?: string;
  /** HL7 table 0357 code for the ERR segment. */
  errorCode?: string;
  /** Where the error is (ERR-2), e.g. { segment: 'OBX', field: 5 }. */
  location?: { segment?: string; field?: number };
  /** This ACK's own control id. */
  controlId: string;
  nowMs?: number;
  /** Our application name (MSH-3 of the ACK). */
  application?: string;
}

/**
 * An HL7 ACK for a message: MSH (sender and receiver swapped), MSA (code, echoed control id, text), and
 * for AE / AR an ERR segment with the HL7 error code, severity E and the text.
 */
export function buildAck(options: AckOptions): string {
  const o = options.original;
  const segments = [
    [
      'MSH',
      '^~\\&',
      options.application ?? o.receivingApplication ?? 'ECGFLOW',
      o.receivingFacility ?? '',
      o.sendingApplication ?? '',
      o.sendingFacility ?? '',
      formatHl7Time(options.nowMs ?? Date.now()),
      '',
      `ACK^${o.triggerEvent || 'R01'}^ACK`,
      options.controlId,
      'P',
      o.version || '2.6',
    ].join('|'),
    ['MSA', options.code, escapeHl7(o.controlId ?? ''), escapeHl7(options.text ?? '')]
      .join('|')
      .replace(/\|+$/, ''),
  ];
  if (options.code !== 'AA') {
    const loc = options.location;
    const where =
      loc?.segment === undefined ? '' : `${loc.segment}^1${loc.field === undefined ? '' : `^${loc.field}`}`;
    segments.push(
      [
        'ERR',
        '',
        where,
        `${options.errorCode ?? HL7_ERROR.applicationInternal}^^HL70357`,
        'E',
        '',
        '',
        '',
        escapeHl7(options.text ?? ''),
      ].join('|'),
    );
  }
  return `${segments.join('\r')}\r`;
}

/** Read the MSA of an ACK: its code, the control id it acknowledges, and the text. */
export function parseAck(text: string): { code: AckCode; controlId: string; text: string } | undefined {
  const msa = splitSegments(text).find((s) => s.startsWith('MSA|'));
  if (msa === undefined) return undefined;
  const f = msa.split('|');
  const code = f[1];
  if (code !== 'AA' && code !== 'AE' && code !== 'AR' && code !== 'CA' && code !== 'CE' && code !== 'CR')
    return undefined;
  const normalised: AckCode =
    code === 'AA' || code === 'CA' ? 'AA' : code === 'AE' || code === 'CE' ? 'AE' : 'AR';
  return { code: normalised, controlId: unescapeHl7(f[2] ?? ''), text: unescapeHl7(f[3] ?? '') };
}
