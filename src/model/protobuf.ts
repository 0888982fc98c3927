/**
 * The few protocol-buffer wire-format primitives needed to write a TensorFlow graph (frozenGraph.ts):
 * varints, length-delimited fields and nested messages. Writing only, no schema: the caller gives field
 * numbers from TensorFlow's .proto files. A message is a list of encoded fields (`Field[]`), so nested
 * messages are built bottom-up and concatenated once.
 */

export type Field = Uint8Array;

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

/** Base-128 varint; negative numbers as 64-bit two's complement (ten bytes), as protobuf's int64 does. */
export function varint(value: number | bigint): Uint8Array {
  let v = BigInt(value);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function tag(fieldNumber: number, wireType: number): Uint8Array {
  return varint((fieldNumber << 3) | wireType);
}

/** An integer field (int32, int64, enum, bool). */
export function intField(fieldNumber: number, value: number | bigint | boolean): Field {
  return concat([tag(fieldNumber, WIRE_VARINT), varint(typeof value === 'boolean' ? Number(value) : value)]);
}

/** A bytes field. */
export function bytesField(fieldNumber: number, bytes: Uint8Array): Field {
  return concat([tag(fieldNumber, WIRE_LENGTH_DELIMITED), varint(bytes.length), bytes]);
}

/** A string field (UTF-8). */
export function stringField(fieldNumber: number, text: string): Field {
  return bytesField(fieldNumber, new TextEncoder().encode(text));
}

/** A nested message field. */
export function messageField(fieldNumber: number, fields: readonly Field[]): Field {
  return bytesField(fieldNumber, concat(fields));
}

/** A packed repeated integer field (proto3's default for repeated scalars). */
export function packedIntField(fieldNumber: number, values: readonly number[]): Field {
  return bytesField(fieldNumber, concat(values.map((v) => varint(v))));
}

/** One entry of a map<string, Message> field (an entry is a message with key = 1, value = 2). */
export function mapEntryField(fieldNumber: number, key: string, value: readonly Field[]): Field {
  return messageField(fieldNumber, [stringField(1, key), messageField(2, value)]);
}

/** A whole message's bytes. */
export function encodeMessage(fields: readonly Field[]): Uint8Array {
  return concat(fields);
}
