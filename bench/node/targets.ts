// The servers the benchmarks measure, each its own process so its CPU and RSS can be read from /proc:
// one redis-server (AOF everysec, as in the box), one Tessera container, or a bare uWS server.
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Container, REPO_ROOT } from '../cluster/container.js';
import { freePort, httpStatus } from '../cluster/ports.js';
import { ManagedProcess } from '../cluster/process.js';
import { startRedisServer, type RedisHandle } from '../cluster/redis.js';
import { KEYS } from './lua.js';

const GC_HOOK = new URL('./servers/gc-hook.js', import.meta.url).href;

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-01';

export interface Target {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
  /** Prometheus text of /metrics (Tessera only). */
  metrics?(): Promise<string>;
}

export class Bench {
  private constructor(
    readonly redis: RedisHandle,
    readonly dir: string,
    readonly client: Redis,
  ) {}

  static async start(): Promise<Bench> {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
    const redis = await startRedisServer({ dir });
    const client = new Redis(redis.url);
    return new Bench(redis, dir, client);
  }

  /** A clean canvas between points: no cooldowns, stream or seq left from the previous one. */
  async flush(): Promise<void> {
    await this.client.flushall();
  }

  async headSeq(): Promise<number> {
    return Number((await this.client.get(KEYS.seq)) ?? 0);
  }

  /** `gcHook`: preload servers/gc-hook.js so that SIGUSR2 makes the server collect its garbage. */
  async tessera(env: Record<string, string> = {}, gcHook = false, nodeArgs: string[] = []): Promise<Target> {
    const c = await Container.create({
      index: 1,
      dir: this.dir,
      // A/B experiments on the hot path: BENCH_SERVICE_ROOT points at a patched copy of the repo's dist/.
      root: process.env.BENCH_SERVICE_ROOT ?? REPO_ROOT,
      env: {
        REDIS_URL: this.redis.url,
        SESSION_SECRET: BENCH_SECRET,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_REQUESTS_PER_MIN: '0',
        RATE_LIMIT_SESSIONS_PER_MIN: '0',
        // Every socket comes from 127.0.0.1: one network.
        WS_MAX_PER_NETWORK: '0',
        SHUTDOWN_DELAY_MS: '0',
        WS_MAX_BACKPRESSURE: String(4 << 20),
        ...env,
      },
      nodeArgs: [...(gcHook ? [`--import=${GC_HOOK}`] : []), ...nodeArgs],
    });
    await c.start();
    return { name: 'tessera', port: c.port, pid: c.pid!, stop: () => c.stop(), metrics: () => fetch(`${c.url}/metrics`).then((r) => r.text()) };
  }

  /** servers/bare.ts in one of its modes (validate, lua, fanout, or a comma-separated mix). */
  async bare(mode: string, gcHook = false): Promise<Target> {
    const port = await freePort();
    const p = new ManagedProcess({
      name: `bare-${mode}`,
      command: process.execPath,
      args: [...(gcHook ? [`--import=${GC_HOOK}`] : []), fileURLToPath(new URL('./servers/bare.js', import.meta.url))],
      env: { PATH: process.env.PATH, BARE_MODE: mode, PORT: String(port), REDIS_URL: this.redis.url, SESSION_SECRET: BENCH_SECRET },
      ready: async () => (await httpStatus(`http://127.0.0.1:${port}/readyz`)) === 200,
      readyTimeoutMs: 15_000,
    });
    await p.start();
    return { name: `bare-${mode}`, port, pid: p.pid!, stop: () => p.stop() };
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await this.redis.process.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Mean and count of tessera_place_batch_size from /metrics text. */
export function batchSizes(metrics: string): { calls: number; mean: number } {
  const sum = Number(/^tessera_place_batch_size_sum (\S+)/m.exec(metrics)?.[1] ?? 0);
  const calls = Number(/^tessera_place_batch_size_count (\S+)/m.exec(metrics)?.[1] ?? 0);
  return { calls, mean: calls ? sum / calls : 0 };
}
