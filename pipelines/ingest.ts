/**
 * Pipeline `ingest`: bedside monitors -> MLLP listener (HL7 v2 PCD-01) and, optionally, a JSON-over-HTTP
 * listener -> the gateway (validation, patient continuity, ADC conversion) -> samples topic; refused
 * messages -> dead-letter topic. Wiring only: the protocol and its rules live in src/ingest/.
 */
import { DeadLetterWriter } from '../src/bus/deadLetter';
import type { BatchingSink } from '../src/bus/sink';
import type { Metrics } from '../src/metrics/registry';
import { IngestGateway, type GatewayConfig, type IngestEvent } from '../src/ingest/gateway';
import { HttpIngestServer } from '../src/ingest/httpIngest';
import { MllpServer, type MllpServerOptions } from '../src/ingest/mllpServer';

export interface IngestConfig {
  gateway: GatewayConfig;
  deadLetterTopic: string;
  mllp: Partial<MllpServerOptions>;
  /** Also listen for JSON over HTTP on this port (undefined: no HTTP listener). */
  http?: { host: string; port: number; maxBodyBytes: number };
}

export interface IngestRun {
  gateway: IngestGateway;
  mllp: MllpServer;
  http: HttpIngestServer | undefined;
  mllpPort: number;
  httpPort: number | undefined;
  /** Stop listening, finish the messages in hand, flush. */
  close(): Promise<void>;
}

export async function startIngest(
  config: IngestConfig,
  samplesSink: BatchingSink,
  deadLetterSink: BatchingSink,
  metrics: Metrics,
  log: (line: string) => void,
  onEvent?: (event: IngestEvent) => void,
): Promise<IngestRun> {
  const deadLetters = new DeadLetterWriter(deadLetterSink, config.deadLetterTopic, 'ingest', {
    inc: (labels) => metrics.deadLetters.inc(labels),
  });
  const gateway = new IngestGateway(config.gateway, {
    samplesSink,
    deadLetterSink,
    deadLetters,
    metrics,
    log,
    onEvent,
  });
  const mllp = new MllpServer(gateway, config.mllp, log);
  const mllpPort = await mllp.listen();
  let http: HttpIngestServer | undefined;
  let httpPort: number | undefined;
  if (config.http !== undefined) {
    http = new HttpIngestServer(
      gateway,
      { ...config.http, maxSamplesPerLead: config.gateway.maxSamplesPerLead },
      log,
    );
    try {
      httpPort = await http.listen();
    } catch (err) {
      await mllp.close();
      throw err;
    }
  }
  return {
    gateway,
    mllp,
    http,
    mllpPort,
    httpPort,
    close: async () => {
      await mllp.close();
      await http?.close();
      await samplesSink.flush();
      await deadLetterSink.flush();
    },
  };
}
