/**
 * The project's error taxonomy, in the spirit of kafkajs's `errors.js`: every error has a stable `code`,
 * says whether retrying could help (`retriable`), and carries the context a user needs to find the bad
 * input (file, line, byte offset, topic, partition, offset, field) plus what was expected.
 */

export interface ErrorLocation {
  /** File path, topic name or endpoint the bad input came from. */
  source?: string;
  /** 1-based line number inside a text file. */
  line?: number;
  /** Byte offset inside a binary file. */
  byteOffset?: number;
  /** Kafka partition and offset, for messages. */
  partition?: number;
  offset?: string;
  /** Field or column that was wrong. */
  field?: string;
}

export class EcgflowError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly location: ErrorLocation;

  constructor(
    code: string,
    message: string,
    location: ErrorLocation = {},
    retriable = false,
    cause?: unknown,
  ) {
    super(withLocation(message, location), cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = retriable;
    this.location = location;
  }
}

function withLocation(message: string, loc: ErrorLocation): string {
  const parts: string[] = [];
  if (loc.source !== undefined) parts.push(loc.source);
  if (loc.line !== undefined) parts.push(`line ${loc.line}`);
  if (loc.byteOffset !== undefined) parts.push(`byte ${loc.byteOffset}`);
  if (loc.partition !== undefined) parts.push(`partition ${loc.partition}`);
  if (loc.offset !== undefined) parts.push(`offset ${loc.offset}`);
  if (loc.field !== undefined) parts.push(`field ${loc.field}`);
  return parts.length > 0 ? `${parts.join(', ')}: ${message}` : message;
}

/** A setting or command-line flag is missing or invalid. */
export class ConfigError extends EcgflowError {
  constructor(message: string, field?: string) {
    super('CONFIG', message, field === undefined ? {} : { field });
  }
}

/** A training run's own file (run.json, report.json) is unreadable or not what a run writes. */
export class RunFileError extends EcgflowError {
  constructor(message: string, location: ErrorLocation, cause?: unknown) {
    super('RUN_FILE', message, location, false, cause);
  }
}

/** A bounded read of a log found other contents than a run fixed for it (retention, a rebuilt log). */
export class BeatLogChangedError extends EcgflowError {
  constructor(message: string, topic: string) {
    super('BEAT_LOG_CHANGED', message, { source: topic });
  }
}

/** A WFDB file (header, signal or annotation) does not follow the format. */
export class WfdbFormatError extends EcgflowError {
  constructor(message: string, location: ErrorLocation) {
    super('WFDB_FORMAT', message, location);
  }
}

/** A WFDB signal format this reader does not implement. */
export class UnsupportedFormatError extends EcgflowError {
  constructor(format: string, location: ErrorLocation) {
    super('WFDB_UNSUPPORTED_FORMAT', `unsupported format ${format} (supported: 212, 16)`, location);
  }
}

/** Decoded data disagree with the checksum stored beside it. */
export class ChecksumMismatchError extends EcgflowError {
  constructor(message: string, location: ErrorLocation) {
    super('CHECKSUM_MISMATCH', message, location);
  }
}

/** A message body could not be decoded with its Avro schema. */
export class MessageDecodeError extends EcgflowError {
  constructor(message: string, location: ErrorLocation, cause?: unknown) {
    super('MESSAGE_DECODE', message, location, false, cause);
  }
}

/** A message decoded but its content is unusable (wrong sample rate, bad sequence, ...). */
export class MessageValidationError extends EcgflowError {
  constructor(message: string, location: ErrorLocation) {
    super('MESSAGE_VALIDATION', message, location);
  }
}

/** A download failed (network error, HTTP status, hash mismatch). */
export class DownloadError extends EcgflowError {
  constructor(message: string, location: ErrorLocation, retriable: boolean, cause?: unknown) {
    super('DOWNLOAD', message, location, retriable, cause);
  }
}

/** The local Kafka broker (scripts/kafka/broker.sh) could not be provisioned or started. */
export class BrokerStartError extends EcgflowError {
  constructor(message: string, location: ErrorLocation, retriable: boolean, cause?: unknown) {
    super('BROKER_START', message, location, retriable, cause);
  }
}

/** Describe any thrown value in one line, for logs and dead-letter reasons. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
