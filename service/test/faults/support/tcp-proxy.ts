// A TCP proxy on a fixed loopback port in front of a server, that can be taken down and brought back:
// down() closes the listener and resets every connection (what a client of a stopped server sees: resets,
// then refused connections), up() listens on the same port again. The server behind keeps its state.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../support/redis-server.js';

export interface TcpProxy {
  port: number;
  endpoint: string;
  readonly isUp: boolean;
  /** connections proxied so far */
  readonly connections: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let connections = 0;
  const up = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        connections++;
        const upstream = connect(targetPort, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });
  const down = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.resetAndDestroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await up();
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get isUp() {
      return server !== undefined;
    },
    get connections() {
      return connections;
    },
    down,
    up,
    close: down,
  };
}
