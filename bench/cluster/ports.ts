// Free loopback ports and readiness probes shared by every process of the box.
import { connect, createServer } from 'node:net';

/** A port the kernel just handed out on 127.0.0.1 (free now; the caller binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** True when something accepts a TCP connection on 127.0.0.1:port. */
export function tcpOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** The HTTP status of GET url, or 0 when nothing answers. */
export async function httpStatus(url: string, timeoutMs = 1000): Promise<number> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** Sends one inline command to a Redis server and returns the first reply line ('' when none). */
export function redisCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      sock.destroy();
      resolve(out.split('\r\n')[0] ?? '');
    };
    sock.setTimeout(timeoutMs, done);
    sock.once('connect', () => sock.write(command + '\r\n'));
    sock.on('data', (d) => {
      out += d.toString('latin1');
      if (out.includes('\r\n')) done();
    });
    sock.once('error', done);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
