/**
 * The MLLP listener: TCP connections from bedside gateways, each read through an `MllpDecoder`, every
 * message handed to the `IngestGateway` and answered with its ACK in the order the messages came (HL7's
 * original acknowledgement mode: a sender waits for the ACK of one message before the next, but one that
 * pipelines several is answered in order too). Backpressure: a connection's reads are paused while more
 * than `maxQueuedMessages` of its messages wait. A framing problem is answered with a NAK when the frame
 * names its control id, and dead-lettered either way; a socket error closes that connection only. The
 * listener itself never stops on bad input. When the service itself fails on a message (the bus does not
 * take its samples) the connection is closed without an ACK and the messages queued behind it on that
 * connection are dropped unprocessed: the sender resends them all, in order.
 */
import * as net from 'node:net';
import { describeError } from '../errors';
import type { IngestGateway } from './gateway';
import { mllpFrame, MllpDecoder, type MllpEvent } from './mllp';
import { listenOn } from '../util/listen';

export interface MllpServerOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  /** Close a connection silent for this long (0: never). */
  idleTimeoutMs: number;
  maxConnections: number;
  maxQueuedMessages: number;
}

export const DEFAULT_MLLP_OPTIONS: MllpServerOptions = {
  host: '0.0.0.0',
  port: 2575,
  maxMessageBytes: 4 * 1024 * 1024,
  idleTimeoutMs: 10 * 60_000,
  maxConnections: 1000,
  maxQueuedMessages: 64,
};

export interface MllpServerStats {
  connections: number;
  openConnections: number;
  messages: number;
  framingErrors: number;
}

export class MllpServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly options: MllpServerOptions;
  private readonly pending = new Set<Promise<void>>();
  readonly stats: MllpServerStats = { connections: 0, openConnections: 0, messages: 0, framingErrors: 0 };
  private listener = 'mllp://';

  constructor(
    private readonly gateway: IngestGateway,
    options: Partial<MllpServerOptions>,
    private readonly log: (line: string) => void,
  ) {
    this.options = { ...DEFAULT_MLLP_OPTIONS, ...options };
  }

  /** Start listening; resolves with the bound port (0 picks a free one). */
  async listen(): Promise<number> {
    const server = net.createServer((socket) => this.accept(socket));
    server.maxConnections = this.options.maxConnections;
    server.on('error', (err) => this.log(`ingest mllp: listener error: ${describeError(err)}`));
    const port = await listenOn(server, this.options.port, this.options.host);
    this.server = server;
    this.listener = `mllp://${this.options.host}:${port}`;
    return port;
  }

  private accept(socket: net.Socket): void {
    this.stats.connections++;
    this.stats.openConnections++;
    this.sockets.add(socket);
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const decoder = new MllpDecoder(this.options.maxMessageBytes, peer);
    let sequence = 0;
    let queued = 0;
    let chain: Promise<void> = Promise.resolve();
    if (this.options.idleTimeoutMs > 0) socket.setTimeout(this.options.idleTimeoutMs, () => socket.end());
    socket.setNoDelay(true);

    const origin = () => ({
      transport: 'mllp' as const,
      listener: this.listener,
      peer,
      sequence: sequence++,
    });
    const enqueue = (event: MllpEvent) => {
      queued++;
      if (queued > this.options.maxQueuedMessages) socket.pause();
      const o = origin();
      const step = chain.then(async () => {
        // A connection closed after a service failure: the messages queued behind the failed one were
        // never acknowledged and the sender will resend them in order; processing them now would publish
        // them ahead of the failed one.
        if (socket.destroyed) {
          queued--;
          return;
        }
        try {
          let reply: string | undefined;
          if (event.kind === 'message') {
            this.stats.messages++;
            reply = (await this.gateway.handleHl7(event.payload, o)).ack;
          } else {
            this.stats.framingErrors++;
            this.log(`ingest mllp: ${peer}: ${describeError(event.error)}`);
            reply = await this.gateway.handleBadFrame(event.error, event.head, o);
          }
          if (reply !== undefined && !socket.destroyed && socket.writable) socket.write(mllpFrame(reply));
        } catch (err) {
          // The gateway answers bad input itself; this is a failure of the service (e.g. the bus).
          this.log(
            `ingest mllp: ${peer}: message not processed: ${describeError(err)}; closing the connection (the sender will resend)`,
          );
          socket.destroy();
        } finally {
          queued--;
          if (queued <= this.options.maxQueuedMessages && socket.isPaused()) socket.resume();
        }
      });
      chain = step;
      this.pending.add(step);
      void step.finally(() => this.pending.delete(step));
    };

    socket.on('data', (data: Buffer) => {
      for (const event of decoder.push(data)) enqueue(event);
    });
    socket.on('end', () => {
      for (const event of decoder.end()) enqueue(event);
      void chain.finally(() => socket.end());
    });
    socket.on('error', (err) => this.log(`ingest mllp: ${peer}: ${describeError(err)}`));
    socket.on('close', () => {
      this.stats.openConnections--;
      this.sockets.delete(socket);
    });
  }

  /** Stop accepting, let queued messages finish, close every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    // close() stops accepting at once but calls back only when every connection has ended.
    const closed =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.allSettled([...this.pending]);
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  get address(): string {
    return this.listener;
  }
}
