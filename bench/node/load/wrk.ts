// Closed-loop saturation with wrk (C, one thread): here it costs a fraction of a Node generator's CPU per
// request, leaving more of the 2 cores to the server under test. Distinct users come from a token file
// that a Lua script turns into pre-formatted requests at start.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokens } from '../../../service/src/auth/token.js';
import { cpuMs } from '../stats.js';

export function wrkInstalled(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

const LUA = `
local reqs, n, i = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    local token, body = line:match("^(%S+) (.+)$")
    n = n + 1
    reqs[n] = wrk.format("PUT", "/api/pixel", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
  end
end
function request()
  i = i % n + 1
  return reqs[i]
end
`;

export interface WrkResult {
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  latency: { p50: number; p90: number; p99: number };
  /** CPU of the wrk process as a share of one core, and per request. */
  generatorCpu: number;
  cpuUsPerRequest: number;
}

const userFiles = new Map<string, string>();
let fileDir: string | undefined;

/** The token file for users prefix0…prefix(n-1), minted once per run of the benchmark (Redis is flushed between points). */
function usersFile(secret: string, prefix: string, users: number): string {
  const key = `${prefix}:${users}`;
  const known = userFiles.get(key);
  if (known) return known;
  fileDir ??= mkdtempSync(join(tmpdir(), 'tessera-wrk-'));
  const tokens = new Tokens([Buffer.from(secret)], 3600);
  const lines: string[] = new Array(users);
  for (let i = 0; i < users; i++) {
    const r = (i * 2654435761) >>> 0;
    lines[i] = `${tokens.mint(`${prefix}${i}`).token} {"x":${r % 1000},"y":${(r >>> 10) % 1000},"color":${(r >>> 20) % 16}}`;
  }
  const file = join(fileDir, `users-${userFiles.size}.txt`);
  writeFileSync(file, lines.join('\n') + '\n');
  writeFileSync(join(fileDir, 'put.lua'), LUA);
  userFiles.set(key, file);
  return file;
}

export function cleanupWrkFiles(): void {
  if (fileDir) rmSync(fileDir, { recursive: true, force: true });
  fileDir = undefined;
  userFiles.clear();
}

/** `window` is told when wrk's measured run starts (its init done) and shortly before it ends. */
export async function runWrk(
  o: { port: number; connections: number; durationS: number; secret: string; userPrefix: string; users: number },
  window?: { start(): void; end(): void },
): Promise<WrkResult> {
  const users = usersFile(o.secret, o.userPrefix, o.users);
  const args = ['-t1', `-c${o.connections}`, `-d${o.durationS}s`, '--latency', '-s', join(fileDir!, 'put.lua'), `http://127.0.0.1:${o.port}/api/pixel`, '--', users];
  let cpu = NaN;
  const out = await new Promise<string>((resolve, reject) => {
    // Line-buffered, so "Running…" arrives when wrk starts its clock, not at exit.
    const p = spawn('stdbuf', ['-oL', 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let s = '';
    let last: NodeJS.Timeout | undefined;
    p.stdout.on('data', (d) => {
      // "Running Ns test @ …" comes once the Lua init is done and the clock starts.
      if (!s) {
        const c1 = cpuMs(p.pid!);
        const t1 = performance.now();
        window?.start();
        last = setTimeout(() => {
          cpu = (cpuMs(p.pid!) - c1) / (performance.now() - t1);
          window?.end();
        }, o.durationS * 1000 - 200);
      }
      s += d;
    });
    p.stderr.on('data', (d) => (s += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(last);
      if (code === 0) resolve(s);
      else reject(new Error(`wrk exited ${code}: ${s}`));
    });
  });
  const r = parseWrk(out);
  return { ...r, generatorCpu: cpu, cpuUsPerRequest: (cpu * 1e6) / (r.requests / o.durationS) };
}

function ms(v: string, unit: string): number {
  return Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
}

export function parseWrk(out: string): Omit<WrkResult, 'generatorCpu' | 'cpuUsPerRequest'> {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0) * (requests ? (requests - non2xx) / requests : 0),
    requests,
    non2xx,
    errors,
    latency: { p50: pct('50'), p90: pct('90'), p99: pct('99') },
  };
}
