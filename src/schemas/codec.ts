/**
 * Avro codecs for every message type, using Avro single-object encoding: `C3 01`, the writer schema's
 * 8-byte CRC-64-AVRO fingerprint (little-endian), then the binary body. A reader therefore knows exactly
 * which schema wrote a message and resolves it to its own (newer or older) version through avsc's
 * schema resolution, without a schema-registry service. Older versions of each schema live in
 * `schemas/history/` so that data written by them stays readable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as avro from 'avsc';
import { MessageDecodeError, type ErrorLocation } from '../errors';
import { projectRoot } from '../util/projectRoot';
import { rabinFingerprint } from './fingerprint';
import type { AlertV1, BeatV1, DeadLetterV1, PredictionV1, SampleChunkV1, TrainingEventV1 } from './types';

const MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_BYTES = 10;

/** The message types and the TypeScript shape of their current version. */
export interface MessageTypes {
  SampleChunk: SampleChunkV1;
  Beat: BeatV1;
  Prediction: PredictionV1;
  TrainingEvent: TrainingEventV1;
  DeadLetter: DeadLetterV1;
  Alert: AlertV1;
}
export type MessageTypeName = keyof MessageTypes;

const CURRENT_FILES: Record<MessageTypeName, string> = {
  SampleChunk: 'sample-chunk.avsc',
  Beat: 'beat.avsc',
  Prediction: 'prediction.avsc',
  TrainingEvent: 'training-event.avsc',
  DeadLetter: 'dead-letter.avsc',
  Alert: 'alert.avsc',
};

// Timestamps as plain epoch-millisecond numbers (not Date objects): cheaper, and exact for 2^53 ms.
const LOGICAL_TYPES = {};

// Unions of null and one type read as plain values; the union of training-event records stays wrapped
// ({ 'ecgflow.Growth': {...} }) because its branches are not distinguishable otherwise (avsc 'auto').
export function parseSchema(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { logicalTypes: LOGICAL_TYPES });
}

export function fingerprintOf(type: avro.Type): Buffer {
  return rabinFingerprint(JSON.stringify(type.schema()));
}

/** Encodes and decodes one message type; decode accepts any known writer version of that type. */
export class Codec<T> {
  private readonly fingerprintHex: string;
  private readonly resolvers = new Map<string, ReturnType<avro.Type['createResolver']>>();
  private readonly writers = new Map<string, avro.Type>();

  constructor(
    readonly name: string,
    readonly type: avro.Type,
    writerVersions: readonly avro.Type[] = [],
  ) {
    const fp = fingerprintOf(type);
    this.fingerprintHex = fp.toString('hex');
    this.header = Buffer.concat([MAGIC, fp]);
    for (const w of writerVersions) this.writers.set(fingerprintOf(w).toString('hex'), w);
  }

  private readonly header: Buffer;

  /** Encode with this codec's (current) schema; throws if the value does not match the schema. */
  encode(value: T): Buffer {
    const body = this.type.toBuffer(value);
    const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    this.header.copy(out, 0);
    body.copy(out, HEADER_BYTES);
    return out;
  }

  /** Decode a single-object-encoded message, resolving older writer schemas to the current one. */
  decode(buffer: Buffer, where: ErrorLocation = {}): T {
    if (buffer.length < HEADER_BYTES || buffer[0] !== MAGIC[0] || buffer[1] !== MAGIC[1]) {
      throw new MessageDecodeError(
        `not an Avro single-object message (expected header C3 01, got ${buffer.subarray(0, 2).toString('hex') || 'empty'})`,
        where,
      );
    }
    const fp = buffer.toString('hex', 2, HEADER_BYTES);
    let resolver: ReturnType<avro.Type['createResolver']> | undefined;
    if (fp !== this.fingerprintHex) {
      resolver = this.resolvers.get(fp);
      if (resolver === undefined) {
        const writer = this.writers.get(fp);
        if (writer === undefined) {
          throw new MessageDecodeError(`unknown ${this.name} writer schema (fingerprint ${fp})`, where);
        }
        resolver = this.type.createResolver(writer);
        this.resolvers.set(fp, resolver);
      }
    }
    try {
      // With a resolver, the writer schema drives reading and the reader (current) schema shapes the value.
      return this.type.fromBuffer(buffer.subarray(HEADER_BYTES), resolver) as T;
    } catch (err) {
      throw new MessageDecodeError(
        `${this.name} body does not decode: ${(err as Error).message}`,
        where,
        err,
      );
    }
  }
}

let codecs: { [K in MessageTypeName]: Codec<MessageTypes[K]> } | undefined;

function readSchemaFile(file: string): avro.Type {
  return parseSchema(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/** All codecs, built once from `schemas/` and `schemas/history/`. */
export function getCodecs(): { [K in MessageTypeName]: Codec<MessageTypes[K]> } {
  if (codecs !== undefined) return codecs;
  const dir = path.join(projectRoot(), 'schemas');
  const historyDir = path.join(dir, 'history');
  const history = fs.existsSync(historyDir)
    ? fs
        .readdirSync(historyDir)
        .filter((f) => f.endsWith('.avsc'))
        .sort()
    : [];
  const build = <K extends MessageTypeName>(name: K): Codec<MessageTypes[K]> => {
    const current = readSchemaFile(path.join(dir, CURRENT_FILES[name]));
    // history files are named <current-file-stem>.v<N>.avsc
    const stem = CURRENT_FILES[name].replace(/\.avsc$/, '');
    const older = history
      .filter((f) => f.startsWith(`${stem}.v`))
      .map((f) => readSchemaFile(path.join(historyDir, f)));
    return new Codec<MessageTypes[K]>(name, current, older);
  };
  codecs = {
    SampleChunk: build('SampleChunk'),
    Beat: build('Beat'),
    Prediction: build('Prediction'),
    TrainingEvent: build('TrainingEvent'),
    DeadLetter: build('DeadLetter'),
    Alert: build('Alert'),
  };
  return codecs;
}
