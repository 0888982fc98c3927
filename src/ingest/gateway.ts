/**
 * The bedside gateway's core, independent of the transport (MLLP or HTTP): a waveform message in, sample
 * chunks on the samples topic out, and the answer for the sender. Steps, each of which can refuse the
 * message with a typed error:
 *   parse and validate the HL7 envelope (src/ingest/hl7.ts) -> extract the PCD-01 waveform
 *   (src/ingest/pcd01.ts) -> check the patient (when a list of known patients is configured) -> choose
 *   the lead (a preference list; a patient keeps the lead it started with) -> place the samples in the
 *   patient's numbering (src/ingest/continuity.ts: gaps, overlaps, duplicates) -> convert millivolts to
 *   integer ADC units at `gainAduPerMv` (1000 ADU/mV by default: 1 µV resolution, lossless for MIT-BIH's
 *   5 µV steps and for monitors' typical 1-5 µV) -> write one SampleChunk keyed by patient -> flush.
 *
 * The answer: `AA` only after the chunk is acknowledged by the bus (so an ACKed message is never lost),
 * `AE`/`AR` with the error text otherwise. Every refused message is also written to the dead-letter topic
 * with its reason and original bytes, and counted (`ecg_errors_total{stage="ingest"}`,
 * `ecg_dead_letter_messages_total`). Gaps and overlaps are counted (`ecg_ingest_discontinuities_total`)
 * and reported as events once the message is published. Nothing here throws on bad input.
 *
 * A valid message whose samples the bus does not take (the broker unreachable beyond the producer's
 * retries) is not the sender's fault and is not refused: the patient's continuity is put back as it was,
 * the failure is counted (`ecg_errors_total{stage="ingest",code="INGEST_UNAVAILABLE"}`), and
 * `IngestUnavailableError` is thrown, on which the transport answers nothing (MLLP closes the connection)
 * or 503 (HTTP), so that the sender sends the message again, and that resend is placed and published
 * like the first attempt (not dropped as a retransmission of something never published).
 */
import type { DeadLetterWriter } from '../bus/deadLetter';
import { LIVE_SAMPLE_RATE_RANGE_HZ } from '../dsp/resampler';
import type { BatchingSink } from '../bus/sink';
import type { ConsumedMessage } from '../bus/types';
import { EcgflowError, describeError } from '../errors';
import type { Metrics } from '../metrics/registry';
import { getCodecs } from '../schemas/codec';
import type { SampleChunkV1 } from '../schemas/types';
import { PatientContinuity, type ContinuityOptions, type Placement } from './continuity';
import {
  buildAck,
  HL7_ERROR,
  Hl7Error,
  parseHl7,
  readEnvelopeLeniently,
  type AckCode,
  type Hl7Message,
} from './hl7';
import { extractWaveforms, type WaveformLead, type WaveformMessage } from './pcd01';

export interface GatewayConfig {
  samplesTopic: string;
  /** Leads in order of preference (names as in MDC_ECG_LEAD_<name>: II, I, III, V1, ...). */
  leads: readonly string[];
  /** ADC units per millivolt of the published chunks. */
  gainAduPerMv: number;
  /** Most samples per lead in one message. */
  maxSamplesPerLead: number;
  /** When set, only these patients (PID-3) are accepted. */
  knownPatients?: ReadonlySet<string>;
  /** Sampling rates accepted (Hz, inclusive): serve can only take LIVE_SAMPLE_RATE_RANGE_HZ. */
  sampleRateRangeHz: readonly [number, number];
  continuity: Partial<ContinuityOptions>;
  /** Our name in ACKs (MSH-3). */
  application: string;
}

export const DEFAULT_GATEWAY_CONFIG: Omit<GatewayConfig, 'samplesTopic'> = {
  leads: ['II', 'I', 'III'],
  gainAduPerMv: 1000,
  maxSamplesPerLead: 120_000,
  sampleRateRangeHz: LIVE_SAMPLE_RATE_RANGE_HZ,
  continuity: {},
  application: 'ECGFLOW',
};

/** A reported discontinuity or duplicate in a patient's stream. */
export interface IngestEvent {
  kind: Placement['kind'];
  patientId: string;
  lead: string;
  firstSampleIndex: number;
  controlId: string;
  detail: string;
}

export interface IngestOrigin {
  transport: 'mllp' | 'http';
  /** Listener, e.g. mllp://0.0.0.0:2575. */
  listener: string;
  /** Remote address and port. */
  peer: string;
  /** Message number on this connection / listener. */
  sequence: number;
}

export interface IngestOutcome {
  ack: AckCode;
  controlId: string;
  patientId?: string;
  /** Chunks published (0 for duplicates and refusals). */
  published: number;
  placement?: Placement;
  error?: EcgflowError;
}

export interface GatewayStats {
  accepted: number;
  rejected: number;
  duplicates: number;
  chunks: number;
  samples: number;
  gaps: number;
  overlaps: number;
}

/** A refusal that is not HL7's own (JSON ingest, patient list, lead choice, value range). */
export class WaveformRejectedError extends Hl7Error {}

/** A valid message that could not be published (the bus failed): to be retried by the sender, not refused. */
export class IngestUnavailableError extends EcgflowError {
  constructor(message: string, cause: unknown) {
    super('INGEST_UNAVAILABLE', message, {}, true, cause);
  }
}

export class IngestGateway {
  private readonly continuity: PatientContinuity;
  private readonly leadOfPatient = new Map<string, string>();
  private ackCounter = 0;
  readonly stats: GatewayStats = {
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    chunks: 0,
    samples: 0,
    gaps: 0,
    overlaps: 0,
  };

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: {
      samplesSink: BatchingSink;
      /** The sink under `deadLetters`: flushed before a NAK, so a refused message is on record first. */
      deadLetterSink: BatchingSink;
      deadLetters: DeadLetterWriter;
      metrics: Metrics;
      log: (line: string) => void;
      onEvent?: (event: IngestEvent) => void;
      now?: () => number;
    },
  ) {
    this.continuity = new PatientContinuity(config.continuity);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** One HL7 message (the payload of an MLLP frame); returns the ACK to send and what happened. */
  async handleHl7(payload: Buffer, origin: IngestOrigin): Promise<{ ack: string; outcome: IngestOutcome }> {
    const text = payload.toString('latin1');
    let envelope: Hl7Message | undefined;
    try {
      envelope = parseHl7(text);
      const wave = extractWaveforms(envelope, { maxSamplesPerLead: this.config.maxSamplesPerLead });
      const outcome = await this.ingest(wave, envelope.controlId);
      return { ack: this.ack('AA', envelope), outcome };
    } catch (err) {
      if (err instanceof IngestUnavailableError) throw err;
      const outcome = await this.refuse(
        err,
        payload,
        origin,
        envelope?.controlId ?? readEnvelopeLeniently(text).controlId ?? '',
      );
      const e = outcome.error as EcgflowError;
      const h = e instanceof Hl7Error ? e : undefined;
      return {
        ack: this.ack(
          outcome.ack,
          envelope ?? readEnvelopeLeniently(text),
          describeError(e),
          h?.hl7ErrorCode,
          h?.where,
        ),
        outcome,
      };
    }
  }

  /** A waveform that arrived in another form (JSON); same checks from the patient on. */
  async handleWaveform(
    wave: WaveformMessage,
    controlId: string,
    raw: Buffer,
    origin: IngestOrigin,
  ): Promise<IngestOutcome> {
    try {
      return await this.ingest(wave, controlId);
    } catch (err) {
      if (err instanceof IngestUnavailableError) throw err;
      return this.refuse(err, raw, origin, controlId);
    }
  }

  /** A frame that never became a message (truncated, oversized): NAK when its head names a control id. */
  async handleBadFrame(
    error: EcgflowError,
    head: Buffer | undefined,
    origin: IngestOrigin,
  ): Promise<string | undefined> {
    const text = head?.toString('latin1') ?? '';
    const envelope = readEnvelopeLeniently(text);
    await this.refuse(error, head ?? Buffer.alloc(0), origin, envelope.controlId ?? '');
    if (envelope.controlId === undefined || envelope.controlId === '') return undefined;
    return this.ack('AR', envelope, describeError(error), HL7_ERROR.applicationInternal);
  }

  private ack(
    code: AckCode,
    original: Parameters<typeof buildAck>[0]['original'],
    text?: string,
    errorCode?: string,
    location?: { segment?: string; field?: number },
  ): string {
    return buildAck({
      code,
      original,
      text,
      errorCode,
      location,
      controlId: `ACK${this.now()}-${this.ackCounter++}`,
      nowMs: this.now(),
      application: this.config.application,
    });
  }

  /** Refuse a message that failed before it reached the gateway's checks (e.g. JSON that does not parse). */
  refuseMessage(err: unknown, raw: Buffer, origin: IngestOrigin, controlId: string): Promise<IngestOutcome> {
    return this.refuse(err, raw, origin, controlId);
  }

  private async refuse(
    err: unknown,
    raw: Buffer,
    origin: IngestOrigin,
    controlId: string,
  ): Promise<IngestOutcome> {
    const error =
      err instanceof EcgflowError
        ? err
        : new Hl7Error(
            'AE',
            HL7_ERROR.applicationInternal,
            `internal error: ${describeError(err)}`,
            {},
            'INGEST_INTERNAL',
          );
    const ack: AckCode = error instanceof Hl7Error ? error.ackCode : 'AR';
    this.stats.rejected++;
    this.deps.metrics.errors.inc({ stage: 'ingest', code: error.code });
    const pseudo: ConsumedMessage = {
      topic: origin.listener,
      partition: -1,
      offset: `${origin.peer}#${origin.sequence}`,
      key: controlId === '' ? null : controlId,
      value: raw,
      timestampMs: this.now(),
      headers: {},
    };
    try {
      await this.deps.deadLetters.write(pseudo, error);
      await this.deps.deadLetterSink.flush();
    } catch (dlqErr) {
      this.deps.log(`ingest: could not dead-letter a refused message (${describeError(dlqErr)})`);
    }
    if (this.stats.rejected <= 20 || this.stats.rejected % 1000 === 0)
      this.deps.log(
        `ingest: ${ack} ${controlId || '(no control id)'} from ${origin.peer}: ${describeError(error)}`,
      );
    return { ack, controlId, published: 0, error };
  }

  private chooseLead(wave: WaveformMessage): WaveformLead {
    const names = wave.leads.map((l) => l.name);
    const fixed = this.leadOfPatient.get(wave.patientId);
    if (fixed !== undefined) {
      const lead = wave.leads.find((l) => l.name === fixed);
      if (lead === undefined)
        throw new WaveformRejectedError(
          'AE',
          HL7_ERROR.requiredFieldMissing,
          `patient ${wave.patientId} streams lead ${fixed}, which this message lacks (it has ${names.join(', ')})`,
          { segment: 'OBX' },
        );
      return lead;
    }
    const preferred = this.config.leads
      .map((n) => wave.leads.find((l) => l.name === n))
      .find((l) => l !== undefined);
    const lead = preferred ?? wave.leads[0];
    this.leadOfPatient.set(wave.patientId, lead.name);
    if (preferred === undefined)
      this.deps.log(
        `ingest: patient ${wave.patientId}: none of leads ${this.config.leads.join(', ')}; using lead ${lead.name}`,
      );
    return lead;
  }

  private async ingest(wave: WaveformMessage, controlId: string): Promise<IngestOutcome> {
    if (this.config.knownPatients !== undefined && !this.config.knownPatients.has(wave.patientId)) {
      throw new WaveformRejectedError(
        'AE',
        HL7_ERROR.unknownKey,
        `unknown patient ${JSON.stringify(wave.patientId)} (PID-3): not in the configured patient list`,
        { segment: 'PID', field: 3 },
      );
    }
    const lead = this.chooseLead(wave);
    const [lowHz, highHz] = this.config.sampleRateRangeHz;
    if (!(lead.sampleRateHz >= lowHz && lead.sampleRateHz <= highHz))
      throw new WaveformRejectedError(
        'AE',
        HL7_ERROR.dataType,
        `lead ${lead.name}: sampling rate ${lead.sampleRateHz} Hz is outside the ${lowHz}-${highHz} Hz accepted for live ECG`,
        { segment: 'OBX', field: 5 },
      );
    const gain = this.config.gainAduPerMv;
    const limit = 2 ** 31 - 1;
    const adu = new Array<number>(lead.valuesMv.length);
    for (let i = 0; i < adu.length; i++) {
      const v = Math.round(lead.valuesMv[i] * gain);
      if (!(Math.abs(v) <= limit)) {
        throw new WaveformRejectedError(
          'AE',
          HL7_ERROR.dataType,
          `lead ${lead.name}: sample ${i + 1} (${lead.valuesMv[i]} mV) is out of range`,
          { segment: 'OBX', field: 5 },
        );
      }
      adu[i] = v;
    }
    const before = this.continuity.checkpoint(wave.patientId);
    const placement = this.continuity.place(wave.patientId, {
      startTimeMs: lead.startTimeMs,
      sampleRateHz: lead.sampleRateHz,
      sampleCount: adu.length,
      controlId,
    });
    const discontinuity = placement.kind !== 'start' && placement.kind !== 'contiguous';
    if (placement.drop) {
      if (discontinuity) this.report(placement, wave.patientId, lead.name, controlId);
      this.stats.duplicates++;
      return { ack: 'AA', controlId, patientId: wave.patientId, published: 0, placement };
    }
    const samples = placement.skipSamples > 0 ? adu.slice(placement.skipSamples) : adu;
    const chunk: SampleChunkV1 = {
      sourceId: wave.patientId,
      lead: lead.name,
      sampleRateHz: lead.sampleRateHz,
      firstSampleIndex: placement.firstSampleIndex,
      acquisitionTimeMs: Math.round(placement.acquisitionTimeMs),
      sequenceNumber: placement.sequenceNumber,
      gainAduPerMv: gain,
      baselineAdu: 0,
      samples,
      annotations: [],
      endOfStream: false,
    };
    try {
      // ACK only once the chunk is durable: an acknowledged message is never lost.
      await this.deps.samplesSink.publish(this.config.samplesTopic, {
        key: chunk.sourceId,
        value: getCodecs().SampleChunk.encode(chunk),
      });
    } catch (err) {
      this.continuity.restore(before);
      // The broker may come back: take the next messages (this one is resent by its sender).
      this.deps.samplesSink.resume();
      this.deps.metrics.errors.inc({ stage: 'ingest', code: 'INGEST_UNAVAILABLE' });
      throw new IngestUnavailableError(
        `message ${controlId} of patient ${wave.patientId} could not be published (${describeError(err)}); not acknowledged, to be resent`,
        err,
      );
    }
    if (discontinuity) this.report(placement, wave.patientId, lead.name, controlId);
    this.stats.accepted++;
    this.stats.chunks++;
    this.stats.samples += samples.length;
    this.deps.metrics.messages.labels('ingest').inc();
    this.deps.metrics.samples.labels('ingest').inc(samples.length);
    return { ack: 'AA', controlId, patientId: wave.patientId, published: 1, placement };
  }

  private report(placement: Placement, patientId: string, lead: string, controlId: string): void {
    const kind = placement.kind;
    if (kind === 'gap') this.stats.gaps++;
    if (kind === 'overlap' || kind === 'duplicate') this.stats.overlaps++;
    if (kind === 'gap' || kind === 'overlap' || kind === 'duplicate')
      this.deps.metrics.ingestDiscontinuities.labels(kind === 'gap' ? 'gap' : 'overlap').inc();
    const event: IngestEvent = {
      kind,
      patientId,
      lead,
      firstSampleIndex: placement.firstSampleIndex,
      controlId,
      detail: placement.detail,
    };
    this.deps.onEvent?.(event);
    this.deps.log(
      `ingest: patient ${patientId} lead ${lead}: ${kind} at sample ${placement.firstSampleIndex} (message ${controlId}): ${placement.detail}`,
    );
  }
}
