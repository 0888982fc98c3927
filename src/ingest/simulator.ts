/**
 * A bedside-monitor simulator: MIT-BIH (or any WFDB) records replayed as IHE PCD-01 ORU^R01 messages over
 * MLLP, one TCP connection per record (one monitor per patient), one message per `messageSeconds` of
 * signal, each waiting for its ACK before the next (HL7 original mode). Sample values are sent in
 * millivolts with enough decimals to be exact ((adu - baseline) / gain; 4 decimals for MIT-BIH's 200
 * ADU/mV), so a gateway converting at 1000 ADU/mV reproduces the record's signal exactly.
 *
 * Timing: message k carries samples [k n, (k + 1) n) and is sent once its last sample is "acquired" at
 * `start + (k + 1) n / fs / speed` (`speed` 'max': as fast as ACKs come back). OBX-14 is the acquisition
 * time of the first sample on the record's own clock (start + k n / fs): at speed 1 that is wall-clock
 * time, as on a real monitor; faster replays have timestamps that run ahead of the wall clock, so
 * latencies are only meaningful at speed 1. A connection that fails is reopened and the unacknowledged
 * message sent again with the same control id (the gateway recognises the retransmission).
 */
import * as net from 'node:net';
import { describeError, EcgflowError } from '../errors';
import { loadRecording } from '../replay/loadRecording';
import { formatHl7Time, parseAck, type AckCode } from './hl7';
import { mllpFrame, MllpDecoder } from './mllp';

export interface Pcd01Waveform {
  controlId: string;
  patientId: string;
  /** MDC code and name suffix, e.g. 131330 / II. */
  leadCode: string;
  leadName: string;
  sampleRateHz: number;
  startTimeMs: number;
  valuesMv: ArrayLike<number>;
  decimals: number;
  sendingApplication?: string;
  deviceId?: string;
}

const LEAD_CODES: Record<string, string> = { I: '131329', II: '131330', III: '131331', MLII: '131330' };

/** MDC code for a lead name (MIT-BIH's MLII is sent as lead II). */
export function leadCodeFor(name: string): { code: string; name: string } {
  const upper = name.toUpperCase();
  if (upper === 'MLII') return { code: '131330', name: 'II' };
  return { code: LEAD_CODES[upper] ?? '131330', name: LEAD_CODES[upper] === undefined ? 'II' : upper };
}

/** One PCD-01 ORU^R01 waveform message (segments separated by CR). */
export function buildPcd01Message(w: Pcd01Waveform): string {
  const subId = '1.1.1.1002';
  const start = formatHl7Time(w.startTimeMs);
  const end = formatHl7Time(w.startTimeMs + (1000 * w.valuesMv.length) / w.sampleRateHz);
  const values: string[] = new Array<string>(w.valuesMv.length);
  for (let i = 0; i < values.length; i++) values[i] = Number(w.valuesMv[i]).toFixed(w.decimals);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < w.valuesMv.length; i++) {
    min = Math.min(min, w.valuesMv[i]);
    max = Math.max(max, w.valuesMv[i]);
  }
  const device = w.deviceId ?? `SIM-${w.patientId}`;
  return [
    `MSH|^~\\&|${w.sendingApplication ?? 'ECGFLOW_SIM'}|MIT-BIH|ECGFLOW|HOSPITAL|${formatHl7Time(Date.now())}||ORU^R01^ORU_R01|${w.controlId}|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`,
    `PID|||${w.patientId}^^^MITBIH^MR||${w.patientId}^Record`,
    `OBR|1|${w.controlId}^ECGFLOW_SIM|${w.controlId}^ECGFLOW_SIM|182777000^monitoring of patient^SNOMED-CT|||${start}|${end}`,
    `OBX|1|NA|${w.leadCode}^MDC_ECG_LEAD_${w.leadName}^MDC|${subId}|${values.join('^')}|266418^MDC_DIM_MILLI_VOLT^MDC|||||F|||${start}||||${device}`,
    `OBX|2|NM|0^MDC_ATTR_SAMP_RATE^MDC|${subId}.1|${w.sampleRateHz}|264608^MDC_DIM_PER_SEC^MDC|||||F`,
    `OBX|3|NR|0^MDC_ATTR_DATA_RANGE^MDC|${subId}.2|${(Number.isFinite(min) ? min : 0).toFixed(w.decimals)}^${(Number.isFinite(max) ? max : 0).toFixed(w.decimals)}|266418^MDC_DIM_MILLI_VOLT^MDC|||||F`,
  ].join('\r');
}

/** An MLLP client that sends one message at a time and waits for its ACK. */
export class MllpClient {
  private socket: net.Socket | undefined;
  private decoder = new MllpDecoder();
  private waiting: { resolve: (ack: string) => void; reject: (e: unknown) => void } | undefined;
  private readonly received: string[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async connect(): Promise<void> {
    this.decoder = new MllpDecoder();
    const socket = net.createConnection({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.on('data', (data: Buffer) => {
      for (const e of this.decoder.push(data)) {
        if (e.kind !== 'message') continue;
        const text = e.payload.toString('latin1');
        if (this.waiting !== undefined) {
          const w = this.waiting;
          this.waiting = undefined;
          w.resolve(text);
        } else this.received.push(text);
      }
    });
    const fail = (err: unknown) => {
      if (this.socket !== socket) return; // an old connection closing after a reconnect
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () =>
      fail(new EcgflowError('MLLP_CLOSED', 'the connection closed before the ACK arrived', {}, true)),
    );
    this.socket = socket;
  }

  /** Send raw bytes (tests: split or coalesced frames). */
  writeRaw(bytes: Buffer): void {
    if (this.socket === undefined) throw new EcgflowError('MLLP_CLOSED', 'not connected');
    this.socket.write(bytes);
  }

  /** The next ACK (or one already received), within `timeoutMs`. */
  nextAck(timeoutMs: number): Promise<string> {
    const early = this.received.shift();
    if (early !== undefined) return Promise.resolve(early);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new EcgflowError('MLLP_TIMEOUT', `no ACK within ${timeoutMs} ms`, {}, true));
      }, timeoutMs);
      this.waiting = {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Send one message and wait for its ACK. */
  async send(
    message: string,
    timeoutMs: number,
  ): Promise<{ code: AckCode; controlId: string; text: string; raw: string }> {
    if (this.socket === undefined || this.socket.destroyed) await this.connect();
    const ack = this.nextAck(timeoutMs);
    (this.socket as net.Socket).write(mllpFrame(message));
    const raw = await ack;
    const parsed = parseAck(raw);
    if (parsed === undefined)
      throw new EcgflowError('MLLP_BAD_ACK', `the reply is not an HL7 ACK: ${raw.slice(0, 80)}`);
    return { ...parsed, raw };
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
  }
}

export interface SimulateOptions {
  host: string;
  port: number;
  dataDir: string;
  records: readonly string[];
  lead: string;
  speed: number | 'max';
  messageSeconds: number;
  /** Send at most this much of each record (s); undefined: all of it. */
  seconds?: number;
  /** Patient id = prefix + record name. */
  patientPrefix: string;
  ackTimeoutMs: number;
  /** Start of the simulated clock (epoch ms); default now. */
  startTimeMs?: number;
}

export interface SimulateSummary {
  records: number;
  messages: number;
  accepted: number;
  refused: number;
  resent: number;
  samples: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function simulateMllp(
  options: SimulateOptions,
  log: (line: string) => void,
  onMessage: (record: string, samples: number) => void = () => undefined,
): Promise<SimulateSummary> {
  const summary: SimulateSummary = {
    records: options.records.length,
    messages: 0,
    accepted: 0,
    refused: 0,
    resent: 0,
    samples: 0,
    seconds: 0,
  };
  const wallStart = Date.now();
  const clockStart = options.startTimeMs ?? wallStart;
  const one = async (record: string) => {
    const rec = await loadRecording(options.dataDir, record, { lead: options.lead, annotator: undefined });
    const fs = rec.sampleRateHz;
    const n = Math.max(1, Math.round(fs * options.messageSeconds));
    const total =
      options.seconds === undefined
        ? rec.samples.length
        : Math.min(rec.samples.length, Math.round(options.seconds * fs));
    const decimals = Math.max(3, Math.ceil(Math.log10(rec.gainAduPerMv)) + 1);
    const { code, name } = leadCodeFor(rec.lead);
    const patientId = `${options.patientPrefix}${record}`;
    const client = new MllpClient(options.host, options.port);
    try {
      for (let first = 0, k = 0; first < total; first += n, k++) {
        const end = Math.min(first + n, total);
        if (options.speed !== 'max') {
          const due = wallStart + (1000 * end) / fs / options.speed;
          const wait = due - Date.now();
          if (wait > 0) await sleep(wait);
        }
        const values = new Float64Array(end - first);
        for (let i = 0; i < values.length; i++)
          values[i] = (rec.samples[first + i] - rec.baselineAdu) / rec.gainAduPerMv;
        const message = buildPcd01Message({
          controlId: `${patientId}-${k}`,
          patientId,
          leadCode: code,
          leadName: name,
          sampleRateHz: fs,
          startTimeMs: clockStart + (1000 * first) / fs,
          valuesMv: values,
          decimals,
        });
        for (let attempt = 0; ; attempt++) {
          try {
            const ack = await client.send(message, options.ackTimeoutMs);
            if (ack.code === 'AA') summary.accepted++;
            else {
              summary.refused++;
              log(`simulate: ${patientId} message ${k}: ${ack.code} ${ack.text}`);
            }
            break;
          } catch (err) {
            if (attempt >= 5) throw err;
            summary.resent++;
            log(
              `simulate: ${patientId} message ${k}: ${describeError(err)}; reconnecting and sending it again`,
            );
            client.close();
            await sleep(200 * (attempt + 1));
          }
        }
        summary.messages++;
        summary.samples += end - first;
        onMessage(record, end - first);
      }
    } finally {
      client.close();
    }
  };
  await Promise.all(options.records.map(one));
  summary.seconds = (Date.now() - wallStart) / 1000;
  return summary;
}
