// The service as a child process on a port of our choosing, so a test can kill it and start it again
// where the page's socket will look for it (the service's own startChild always picks a fresh port).
// It deliberately does not import the service's test support: that would load the whole service into
// this process and count it, unexercised, against the coverage thresholds.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './build.js';
import { TEST_SECRET } from './load.js';

export interface ServiceChild {
  base: string;
  port: number;
  proc: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const MAIN = join(ROOT, 'service/src/main.ts');

/** Starts service/src/main.ts (through tap's TypeScript loader) on env.PORT and waits for /readyz. */
export async function startServiceOn(env: Record<string, string | undefined> & { PORT: string; DATA_DIR: string }): Promise<ServiceChild> {
  const e = { ...process.env, HOST: '127.0.0.1', SESSION_SECRET: TEST_SECRET, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SHUTDOWN_DELAY_MS: '0',
    // Every page here comes from 127.0.0.1: sessions with a plain POST and no per-network budgets (service tests cover them).
    POW_DIFFICULTY: '0', RATE_LIMIT_PLACEMENTS_PER_MIN: '0', RATE_LIMIT_SOCKETS_PER_MIN: '0', RATE_LIMIT_RESUMES_PER_MIN: '0', ...env };
  let out = '';
  const proc = spawn(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--inspect')), MAIN], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const port = Number(env.PORT);
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited early: ${out}`);
    const ready = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL'); // never leave a service behind that no test will stop
      throw new Error(`service not ready in 20 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    proc,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}

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
