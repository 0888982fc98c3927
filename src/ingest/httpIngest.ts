/**
 * JSON over HTTP for devices and simulators that do not speak HL7: `POST /v1/waveforms` with one message
 *
 *   { "messageId": "m-1", "patientId": "P-17", "lead": "II", "sampleRateHz": 500,
 *     "startTime": "2026-11-24T10:00:00.000Z" (or epoch ms), "unit": "mV" (or "uV"),
 *     "samples": [0.012, 0.015, ...], "deviceId": "monitor-3" (optional) }
 *
 * validated to the same rules as a PCD-01 message (a patient, a lead, a positive sample rate, a time,
 * numeric samples, at most `maxSamplesPerLead`) and handed to the same gateway (patient list, continuity,
 * conversion, publish, dead-letter). The reply mirrors the HL7 ACK: 200 `{"ack":"AA"}` once the samples
 * are durable; 400 `{"ack":"AE","error":...}` for an unusable message (a body that is not JSON included),
 * 413 for a body over the limit, 503 `AR` with `"retry": true` (and Retry-After) when a valid message could
 * not be published (the bus failed: send it again), 500 `AR` when the service itself failed otherwise. `GET /healthz` answers `ok`.
 */
import * as http from 'node:http';
import { describeError } from '../errors';
import type { IngestGateway } from './gateway';
import { IngestUnavailableError, WaveformRejectedError } from './gateway';
import { HL7_ERROR } from './hl7';
import type { WaveformMessage } from './pcd01';
import { listenOn } from '../util/listen';

export interface HttpIngestOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  maxSamplesPerLead: number;
}

function reject(message: string, field: string, code: string = HL7_ERROR.dataType): WaveformRejectedError {
  return new WaveformRejectedError('AE', code, message, { segment: field }, 'WAVEFORM_INVALID');
}

/** Validate a JSON waveform message; throws WaveformRejectedError naming the field. */
export function parseJsonWaveform(
  body: unknown,
  maxSamples: number,
): { wave: WaveformMessage; messageId: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw reject('the body must be a JSON object', 'body');
  const b = body as Record<string, unknown>;
  const messageId = typeof b.messageId === 'string' && b.messageId !== '' ? b.messageId : undefined;
  if (messageId === undefined)
    throw reject('messageId must be a non-empty string', 'messageId', HL7_ERROR.requiredFieldMissing);
  if (typeof b.patientId !== 'string' || b.patientId.trim() === '')
    throw reject('patientId must be a non-empty string', 'patientId', HL7_ERROR.requiredFieldMissing);
  const lead = typeof b.lead === 'string' && b.lead.trim() !== '' ? b.lead.trim() : undefined;
  if (lead === undefined)
    throw reject('lead must be a lead name such as "II"', 'lead', HL7_ERROR.requiredFieldMissing);
  const rate = b.sampleRateHz;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0)
    throw reject('sampleRateHz must be a positive number', 'sampleRateHz', HL7_ERROR.requiredFieldMissing);
  let startTimeMs: number;
  if (typeof b.startTime === 'number' && Number.isFinite(b.startTime)) startTimeMs = b.startTime;
  else if (typeof b.startTime === 'string' && !Number.isNaN(Date.parse(b.startTime)))
    startTimeMs = Date.parse(b.startTime);
  else
    throw reject(
      'startTime must be an ISO-8601 time or epoch milliseconds',
      'startTime',
      HL7_ERROR.requiredFieldMissing,
    );
  const unit = b.unit ?? 'mV';
  const scale = unit === 'mV' ? 1 : unit === 'uV' || unit === 'µV' ? 0.001 : undefined;
  if (scale === undefined)
    throw reject(`unit ${JSON.stringify(unit)} is not mV or uV`, 'unit', HL7_ERROR.tableValueNotFound);
  if (!Array.isArray(b.samples) || b.samples.length === 0)
    throw reject('samples must be a non-empty array of numbers', 'samples', HL7_ERROR.requiredFieldMissing);
  if (b.samples.length > maxSamples)
    throw reject(
      `${b.samples.length} samples, more than the ${maxSamples} accepted in one message`,
      'samples',
    );
  const values = new Float64Array(b.samples.length);
  for (let i = 0; i < values.length; i++) {
    const v = b.samples[i];
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw reject(`sample ${i + 1} (${JSON.stringify(v)}) is not a finite number`, 'samples');
    values[i] = v * scale;
  }
  return {
    messageId,
    wave: {
      patientId: b.patientId.trim(),
      deviceId: typeof b.deviceId === 'string' ? b.deviceId : '',
      leads: [{ code: '', name: lead, subId: '', sampleRateHz: rate, startTimeMs, valuesMv: values }],
      ignoredObservations: 0,
    },
  };
}

export class HttpIngestServer {
  private server: http.Server | undefined;
  private sequence = 0;
  private listener = 'http://';

  constructor(
    private readonly gateway: IngestGateway,
    private readonly options: HttpIngestOptions,
    private readonly log: (line: string) => void,
  ) {}

  async listen(): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log(`ingest http: ${describeError(err)}`);
        if (!res.headersSent) this.reply(res, 500, { ack: 'AR', error: 'internal error' });
      });
    });
    const port = await listenOn(server, this.options.port, this.options.host);
    this.server = server;
    this.listener = `http://${this.options.host}:${port}/v1/waveforms`;
    return port;
  }

  private reply(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/waveforms') {
      this.reply(res, 404, { error: 'POST /v1/waveforms' });
      return;
    }
    const origin = {
      transport: 'http' as const,
      listener: this.listener,
      peer: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      sequence: this.sequence++,
    };
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.options.maxBodyBytes) tooLarge = true;
      else chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    let parsed: { wave: WaveformMessage; messageId: string };
    try {
      if (tooLarge)
        throw reject(`body of ${size} bytes exceeds the limit of ${this.options.maxBodyBytes} bytes`, 'body');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        throw reject(`the body is not JSON (${describeError(err)})`, 'body');
      }
      parsed = parseJsonWaveform(json, this.options.maxSamplesPerLead);
    } catch (err) {
      const outcome = await this.gateway.refuseMessage(err, raw, origin, '');
      this.reply(res, tooLarge ? 413 : 400, { ack: outcome.ack, error: describeError(outcome.error) });
      return;
    }
    let outcome: Awaited<ReturnType<IngestGateway['handleWaveform']>>;
    try {
      outcome = await this.gateway.handleWaveform(parsed.wave, parsed.messageId, raw, origin);
    } catch (err) {
      if (!(err instanceof IngestUnavailableError)) throw err;
      // Valid, but not published: the device must send it again (nothing was acknowledged).
      this.log(`ingest http: ${origin.peer}: ${describeError(err)}`);
      res.setHeader('Retry-After', '5');
      this.reply(res, 503, {
        ack: 'AR',
        messageId: parsed.messageId,
        error: describeError(err),
        retry: true,
      });
      return;
    }
    const status = outcome.ack === 'AA' ? 200 : outcome.ack === 'AE' ? 400 : 500;
    this.reply(res, status, {
      ack: outcome.ack,
      messageId: parsed.messageId,
      ...(outcome.error === undefined
        ? { published: outcome.published }
        : { error: describeError(outcome.error) }),
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
