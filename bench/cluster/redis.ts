// redis-server for the box: loopback only, AOF fsync every second (as ElastiCache with AOF would),
// data in its own temp dir so a kill + restart keeps what was fsynced.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from './process.js';
import { freePort, redisCommand } from './ports.js';

export interface RedisHandle {
  url: string;
  port: number;
  dir: string;
  process: ManagedProcess;
}

export async function startRedisServer(opts: { dir: string; port?: number; aof?: boolean; args?: string[] }): Promise<RedisHandle> {
  const port = opts.port ?? (await freePort());
  const dir = join(opts.dir, 'redis');
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'no', '--loglevel', 'warning'];
  if (opts.aof ?? true) args.push('--appendonly', 'yes', '--appendfsync', 'everysec');
  args.push(...(opts.args ?? []));
  const process = new ManagedProcess({
    name: 'redis',
    command: 'redis-server',
    args,
    // After a restart with a large AOF, LOADING answers -LOADING: only +PONG counts as ready.
    ready: async () => (await redisCommand(port, 'PING')) === '+PONG',
    readyTimeoutMs: 20_000,
  });
  await process.start();
  return { url: `redis://127.0.0.1:${port}`, port, dir, process };
}
