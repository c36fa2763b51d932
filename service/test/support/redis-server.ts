// Starts a real redis-server on a free loopback port for one test file, and stops it after.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
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

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL or SIGTERM the server (data stays in dir for a restart when AOF is on). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(opts: { aof?: boolean; args?: string[] } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  let proc: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'no', '--loglevel', 'warning'];
  if (opts.aof) args.push('--appendonly', 'yes', '--appendfsync', 'everysec');
  args.push(...(opts.args ?? []));
  const launch = async () => {
    proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    const p = proc;
    await new Promise<void>((resolve, reject) => {
      p.once('error', reject);
      const deadline = Date.now() + 10_000;
      const probe = () => {
        const sock = require_net().connect(port, '127.0.0.1');
        sock.once('connect', () => {
          sock.write('PING\r\n');
          sock.once('data', (d: Buffer) => {
            sock.destroy();
            if (d.toString().startsWith('+PONG')) resolve();
            else setTimeout(probe, 50);
          });
        });
        sock.once('error', () => {
          sock.destroy();
          if (Date.now() > deadline) reject(new Error('redis-server did not start'));
          else setTimeout(probe, 50);
        });
      };
      probe();
    });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    kill,
    restart: launch,
    stop: async () => {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import * as net from 'node:net';
function require_net(): typeof net {
  return net;
}
