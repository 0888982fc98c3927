/**
 * The process's Prometheus metrics (prom-client). One registry per process, passed explicitly to the
 * pipelines that record into it; operators never see it. Names follow Prometheus conventions: prefix
 * `ecg_`, base units, `_total` on counters. Labels have bounded cardinality (stage, reason), never a
 * record or patient id.
 */
import * as http from 'node:http';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  /** ECG samples that went through a pipeline stage. */
  readonly samples: Counter<'stage'>;
  /** Bus messages a stage produced or consumed. */
  readonly messages: Counter<'stage'>;
  /** Messages sent to the dead-letter topic, by stage and error code. */
  readonly deadLetters: Counter<'stage' | 'reason'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'ecg_' });
    this.samples = new Counter({
      name: 'ecg_stage_samples_total',
      help: 'ECG samples processed, by pipeline stage.',
      labelNames: ['stage'],
      registers: [this.registry],
    });
    this.messages = new Counter({
      name: 'ecg_stage_messages_total',
      help: 'Bus messages produced or consumed, by pipeline stage.',
      labelNames: ['stage'],
      registers: [this.registry],
    });
    this.deadLetters = new Counter({
      name: 'ecg_dead_letter_messages_total',
      help: 'Messages a stage could not use and sent to the dead-letter topic, by stage and error code.',
      labelNames: ['stage', 'reason'],
      registers: [this.registry],
    });
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serve `registry` at http://host:port/metrics (port 0 picks a free port). */
export async function serveMetrics(
  registry: Registry,
  port: number,
  host = '0.0.0.0',
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(String(err));
        },
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found: try /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: boundPort,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
