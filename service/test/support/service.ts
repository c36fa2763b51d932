// Starts Tessera for a test: in this process (fast, inspectable) or as a child process (kill -9, two containers).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { historyExtension } from '../../src/history/extension.js';
import { startServer, type Extension, type Server } from '../../src/server.js';
import { freePort } from './redis-server.js';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123';

export function testEnv(env: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    CANVAS_WIDTH: '100',
    CANVAS_HEIGHT: '80',
    COOLDOWN_MS: '60000',
    SESSION_SECRET: TEST_SECRET,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'tessera-data-')),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_DELAY_MS: '0',
    BATCH_INTERVAL_MS: '20',
    // EMF lines would land in tap's output; emf.test.ts turns them on.
    EMF_INTERVAL_MS: '0',
    // Sessions with a plain POST (docs/api.md: the way in for tests and load generators); pow.test.ts turns it on.
    POW_DIFFICULTY: '0',
    // Tests play many users from 127.0.0.1: these per-network budgets are tested in limits.test.ts (set them there).
    RATE_LIMIT_PLACEMENTS_PER_MIN: '0',
    RATE_LIMIT_SOCKETS_PER_MIN: '0',
    RATE_LIMIT_RESUMES_PER_MIN: '0',
    ...env,
  };
}

/** In-process server; `base` is http://127.0.0.1:<port>. */
export async function startInProcess(env: Record<string, string | undefined> = {}, extensions?: Extension[]): Promise<Server & { base: string; env: Record<string, string | undefined> }> {
  const e = testEnv(env);
  const config = loadConfig(e);
  // The same extensions as main.ts unless a test chooses its own.
  const server = await startServer(config, createLogger(config.logLevel), extensions ?? [historyExtension(config)]);
  return Object.assign(server, { base: `http://127.0.0.1:${server.port}`, env: e });
}

export interface ChildService {
  base: string;
  port: number;
  proc: ChildProcess;
  output: () => string;
  /** stdout alone (output() interleaves stderr). */
  stdout: () => string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const BUILT = new URL('../../../dist/service/src/main.js', import.meta.url).pathname;

/**
 * A separate Node process running the service: the build in dist/ when TESSERA_TEST_DIST=1 (the test
 * command builds first), else service/src/main.ts through tap's TypeScript loader.
 */
export async function startChild(env: Record<string, string | undefined> = {}): Promise<ChildService> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const e = { ...process.env, ...testEnv({ ...env, PORT: String(port) }) };
  let out = '';
  let stdout = '';
  const args = process.env.TESSERA_TEST_DIST === '1' ? [BUILT] : [...process.execArgv.filter((a) => !a.startsWith('--inspect')), MAIN];
  const proc = spawn(process.execPath, args, { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => {
    out += d;
    stdout += d;
  });
  proc.stderr!.on('data', (d) => (out += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited early: ${out}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`service not ready in 20 s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    proc,
    output: () => out,
    stdout: () => stdout,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}

/** Mints a session over HTTP. */
export async function session(base: string): Promise<{ userId: string; token: string }> {
  const r = await fetch(`${base}/api/session`, { method: 'POST' });
  if (r.status !== 200) throw new Error(`session: ${r.status}`);
  return (await r.json()) as { userId: string; token: string };
}

export async function put(base: string, token: string | undefined, body: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(`${base}/api/pixel`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: r.status, body: parsed, headers: r.headers };
}
