// The built service as a child process for the time-travel benchmark (embedded store, its own DATA_DIR).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../../service/test/support/redis-server.js';

export const SECRET = 'bench-timetravel-secret-bench-timetravel-0';
const MAIN = new URL('../../../service/src/main.js', import.meta.url).pathname;
const STATIC = new URL('../../../client', import.meta.url).pathname;

export interface BenchService {
  base: string;
  port: number;
  proc: ChildProcess;
  startMs: number;
  stop(): Promise<void>;
}

export async function startService(env: Record<string, string>): Promise<BenchService> {
  const port = await freePort();
  const started = Date.now();
  const proc = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SESSION_SECRET: SECRET,
      STATIC_DIR: STATIC,
      LOG_LEVEL: 'warn',
      SHUTDOWN_DELAY_MS: '0',
      POW_DIFFICULTY: '0',
      COOLDOWN_MS: '0',
      RATE_LIMIT_REQUESTS_PER_MIN: '0',
      RATE_LIMIT_PLACEMENTS_PER_MIN: '0',
      RATE_LIMIT_SOCKETS_PER_MIN: '0',
      RATE_LIMIT_RESUMES_PER_MIN: '0',
      EMF_INTERVAL_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited with ${proc.exitCode}`);
    if (await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false)) break;
    if (Date.now() - started > 180_000) {
      proc.kill('SIGKILL');
      throw new Error('service not ready in 180 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    proc,
    startMs: Date.now() - started,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Waits until GET /api/history lists at least n keyframes. */
export async function waitKeyframes(base: string, n: number, timeoutMs = 300_000): Promise<{ seq: number }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = (await (await fetch(`${base}/api/history`)).json()) as { keyframes: { seq: number }[] };
    if (l.keyframes.length >= n) return l.keyframes;
    if (Date.now() > deadline) throw new Error(`only ${l.keyframes.length} of ${n} keyframes after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
