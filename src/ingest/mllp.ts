/**
 * MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 over TCP: every message is framed as
 * `0x0B <message> 0x1C 0x0D`. TCP is a byte stream, so a read may hold part of a frame, several frames, or
 * the end of one and the start of the next; `MllpDecoder` is a streaming state machine that accepts reads
 * of any size and returns the complete frames and the framing problems it found, in order. It never
 * throws on bad input and never buffers without bound:
 * - bytes outside a frame (other than whitespace between frames) are skipped and reported once per run;
 * - a start byte inside an unfinished frame, or the connection closing inside one, is a truncated frame;
 * - a frame that grows past `maxMessageBytes` is reported as oversized and discarded up to its end; its
 *   first bytes are kept so that the NAK can still name the message control id;
 * - `0x1C` not followed by `0x0D` is kept as data (the end is only ever `0x1C 0x0D`).
 */
import { EcgflowError } from '../errors';

export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_CR = 0x0d;

export type MllpProblem = 'truncated' | 'oversized' | 'garbage';

/** A framing problem: the stream carried something that is not a well-formed MLLP frame. */
export class MllpFramingError extends EcgflowError {
  constructor(
    readonly problem: MllpProblem,
    message: string,
    source?: string,
  ) {
    super(`MLLP_${problem.toUpperCase()}`, message, source === undefined ? {} : { source });
  }
}

export type MllpEvent =
  | { kind: 'message'; payload: Buffer }
  /** `head`: the first bytes of the bad frame (for a NAK), when there were any. */
  | { kind: 'error'; error: MllpFramingError; head?: Buffer };

/** Frame one message for sending. */
export function mllpFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = MLLP_START;
  body.copy(out, 1);
  out[body.length + 1] = MLLP_END;
  out[body.length + 2] = MLLP_CR;
  return out;
}

const HEAD_BYTES = 4096;

function isWhitespace(b: number): boolean {
  return b === 0x0d || b === 0x0a || b === 0x20 || b === 0x09;
}

export class MllpDecoder {
  private state: 'idle' | 'frame' | 'discard' = 'idle';
  private parts: Buffer[] = [];
  private size = 0;
  /** The previous read ended with 0x1C inside a frame: the next byte decides. */
  private pendingEnd = false;
  private garbage = 0;
  private head: Buffer | undefined;

  constructor(
    readonly maxMessageBytes = 1_048_576,
    private readonly source?: string,
  ) {}

  /** True while a frame has started and not ended. */
  get inFrame(): boolean {
    return this.state !== 'idle';
  }

  /** Feed one read; returns the frames and problems it completed. */
  push(chunk: Buffer): MllpEvent[] {
    const out: MllpEvent[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.state === 'idle') {
        const start = chunk.indexOf(MLLP_START, i);
        const stop = start < 0 ? n : start;
        for (let k = i; k < stop; k++) if (!isWhitespace(chunk[k])) this.garbage++;
        if (start < 0) break;
        this.flushGarbage(out);
        this.state = 'frame';
        this.parts = [];
        this.size = 0;
        this.pendingEnd = false;
        i = start + 1;
        continue;
      }
      if (this.pendingEnd) {
        this.pendingEnd = false;
        if (chunk[i] === MLLP_CR) {
          this.finishFrame(out);
          i++;
          continue;
        }
        this.append(Buffer.from([MLLP_END])); // a lone 0x1C is data
        continue;
      }
      // Inside a frame (or discarding one): look for the end, or a new start (truncation).
      const end = chunk.indexOf(MLLP_END, i);
      const restart = chunk.indexOf(MLLP_START, i);
      if (restart >= 0 && (end < 0 || restart < end)) {
        this.append(chunk.subarray(i, restart));
        out.push(this.truncated(`a new frame started after ${this.size} bytes of an unfinished one`));
        this.state = 'frame';
        this.parts = [];
        this.size = 0;
        this.head = undefined;
        i = restart + 1;
        continue;
      }
      if (end < 0) {
        this.append(chunk.subarray(i));
        break;
      }
      this.append(chunk.subarray(i, end));
      if (end + 1 >= n) {
        this.pendingEnd = true;
        break;
      }
      if (chunk[end + 1] === MLLP_CR) {
        this.finishFrame(out);
        i = end + 2;
      } else {
        this.append(chunk.subarray(end, end + 1));
        i = end + 1;
      }
    }
    if (this.state === 'idle') this.flushGarbage(out);
    return out;
  }

  /** The connection closed: an unfinished frame is truncated. */
  end(): MllpEvent[] {
    const out: MllpEvent[] = [];
    this.flushGarbage(out);
    if (this.state !== 'idle') {
      if (this.pendingEnd) this.size += 1;
      out.push(
        this.truncated(`the connection closed ${this.size} bytes into a frame, before its end (0x1C 0x0D)`),
      );
      this.state = 'idle';
      this.parts = [];
      this.size = 0;
      this.pendingEnd = false;
    }
    return out;
  }

  private append(data: Buffer): void {
    if (data.length === 0) return;
    if (this.state === 'discard') {
      this.size += data.length;
      return;
    }
    if (this.size + data.length > this.maxMessageBytes) {
      // Keep the head (for the NAK's control id), drop the rest up to the frame's end.
      const joined = Buffer.concat([...this.parts, data]);
      this.head = joined.subarray(0, Math.min(HEAD_BYTES, joined.length));
      this.parts = [];
      this.size += data.length;
      this.state = 'discard';
      return;
    }
    this.parts.push(data);
    this.size += data.length;
  }

  private finishFrame(out: MllpEvent[]): void {
    if (this.state === 'discard') {
      out.push({
        kind: 'error',
        error: new MllpFramingError(
          'oversized',
          `message of ${this.size} bytes exceeds the limit of ${this.maxMessageBytes} bytes`,
          this.source,
        ),
        head: this.head,
      });
    } else {
      out.push({
        kind: 'message',
        payload: this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts),
      });
    }
    this.state = 'idle';
    this.parts = [];
    this.size = 0;
    this.head = undefined;
  }

  private truncated(message: string): MllpEvent {
    const head = this.state === 'discard' ? this.head : Buffer.concat(this.parts).subarray(0, HEAD_BYTES);
    return {
      kind: 'error',
      error: new MllpFramingError('truncated', message, this.source),
      head: head !== undefined && head.length > 0 ? head : undefined,
    };
  }

  private flushGarbage(out: MllpEvent[]): void {
    if (this.garbage === 0) return;
    out.push({
      kind: 'error',
      error: new MllpFramingError(
        'garbage',
        `${this.garbage} bytes outside any MLLP frame skipped`,
        this.source,
      ),
    });
    this.garbage = 0;
  }
}
