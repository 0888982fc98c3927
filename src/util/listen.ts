/**
 * Start a server listening and resolve with the port it is bound to (port 0 picks a free one). A failure
 * to bind (port in use) rejects; the listener for it is removed once bound, so later errors go to the
 * server's own handlers.
 */
import type * as net from 'node:net';

export async function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}
