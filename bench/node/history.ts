// The history benchmark: 1,000 placements/s for 60 s (40,000 distinct users) against one service with a
// real redis-server and DynamoDB Local, all on this machine. Every 5 s it prints the achieved rate, PUT
// latency p50/p99 and the history backlog; at the end the drain time, the maxima, and whether DynamoDB
// holds exactly the accepted placements.
//   npm run build && node dist/bench/node/history.js [--rate 1000] [--seconds 60] [--users 40000]
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { Tokens } from '../../service/src/auth/token.js';
import { oldestUnwritten, readStreamState, unwrittenCount, type GroupState, type StreamState } from '../../service/src/history/stream-state.js';
import { canvasKeys } from '../../service/src/store/redis.js';
import { startDynamo } from '../../service/test/support/dynamo.js';
import { freePort, startRedis } from '../../service/test/support/redis-server.js';

const { values: args } = parseArgs({ options: { rate: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '60' }, users: { type: 'string', default: '40000' } } });
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const USERS = Number(args.users);
const SECRET = 'bench-secret-bench-secret-bench-secret-00';
const TABLE = 'tessera-history-bench';
const MAX_IN_FLIGHT = 2000; // bounded load: beyond this the generator counts requests as skipped
const DRAIN_TIMEOUT_MS = 120_000;
const COOLDOWN_MS = Math.floor((USERS / RATE) * 1000 * 0.75); // each user places once per USERS/RATE s

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: Float64Array, q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** utime+stime of a process in seconds, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

async function main(): Promise<void> {
  console.log(`history benchmark: ${RATE} placements/s for ${SECONDS} s, ${USERS} users, cooldown ${COOLDOWN_MS} ms`);
  const redisServer = await startRedis();
  const dynamo = await startDynamo();
  const port = await freePort();
  const mainScript = new URL(`../../service/src/main${ext}`, import.meta.url).pathname;
  const svc = spawn(process.execPath, [...process.execArgv, mainScript], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redisServer.url,
      SESSION_SECRET: SECRET,
      DYNAMODB_TABLE: TABLE,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      COOLDOWN_MS: String(COOLDOWN_MS),
      RATE_LIMIT_REQUESTS_PER_MIN: '0',
      LOG_LEVEL: 'warn',
      DATA_DIR: '/tmp/tessera-bench-history',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const redis = new Redis(redisServer.url);
  const base = `http://127.0.0.1:${port}`;
  const cleanup = async () => {
    svc.kill('SIGKILL');
    redis.disconnect();
    await dynamo.stop();
    await redisServer.stop();
  };
  try {
    for (const deadline = Date.now() + 30_000; ; await sleep(200)) {
      if ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) === 200) break;
      if (Date.now() > deadline) throw new Error('service not ready in 30 s');
    }
    const stream = canvasKeys('main').stream;
    // The writer creates the table and the group in the background: wait for both before timing anything.
    for (const deadline = Date.now() + 30_000; !(await readStreamState(redis, stream, 'history')).group; await sleep(200)) {
      if (Date.now() > deadline) throw new Error('history group not created in 30 s');
    }
    await run(base, redis, stream, dynamo.client, { service: svc.pid!, redis: listenerPid(redisServer.port), dynamo: dynamo.pid() });
  } finally {
    await cleanup();
  }
}

async function run(base: string, redis: Redis, stream: string, client: DynamoDBClient, pids: Record<string, number>): Promise<void> {
  const tokens = new Tokens([Buffer.from(SECRET)], 3600);
  const users = Array.from({ length: USERS }, (_, i) => tokens.mint(`bench${i}`).token);
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const latencies = new Float64Array(RATE * SECONDS);
  const statuses = new Map<number, number>();
  let sent = 0;
  let done = 0;
  let accepted = 0;
  let inFlight = 0;
  let skipped = 0;
  const put = (i: number) => {
    const body = `{"x":${(i * 7919) % 1000},"y":${Math.floor(i / 1000) % 1000},"color":${i % 16}}`;
    const started = performance.now();
    inFlight++;
    const req = request({ host: '127.0.0.1', port: new URL(base).port, path: '/api/pixel', method: 'PUT', agent, timeout: 10_000,
      headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${users[i % USERS]}` } });
    const finish = (status: number) => {
      inFlight--;
      latencies[done++] = performance.now() - started;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 200) accepted++;
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => finish(0));
    req.end(body);
  };

  const cpuStart = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const t0 = performance.now();
  const total = RATE * SECONDS;
  // Open loop: every 5 ms, send what the schedule says is due (bounded by MAX_IN_FLIGHT).
  const pacer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
    while (sent < due) {
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped += due - sent;
        sent = due;
        break;
      }
      put(sent++);
    }
    if (sent >= total) clearInterval(pacer);
  }, 5);

  let maxBacklog = 0;
  let maxAge = 0;
  let lastDone = 0;
  let lastAccepted = 0;
  const sample = async () => {
    const s = await readStreamState(redis, stream, 'history');
    const g = s as StreamState & { group: GroupState };
    const backlog = unwrittenCount(g);
    let age = 0;
    if (backlog > 0) {
      const e = (await redis.xrange(stream, `${oldestUnwritten(g)}-0`, '+', 'COUNT', 1)) as [string, string[]][];
      if (e.length) age = (Date.now() - Number(e[0][1][1].split(',')[4])) / 1000;
    }
    maxBacklog = Math.max(maxBacklog, backlog);
    maxAge = Math.max(maxAge, age);
    return { backlog, age, length: s.length };
  };
  console.log(' t(s)  rate/s  p50(ms)  p99(ms)  backlog  oldest(s)  stream');
  for (let tick = 1; tick <= SECONDS / 5; tick++) {
    await sleep(t0 + tick * 5000 - performance.now());
    const window = Float64Array.from(latencies.subarray(lastDone, done)).sort();
    const rate = (accepted - lastAccepted) / 5;
    lastDone = done;
    lastAccepted = accepted;
    const b = await sample();
    console.log(`${String(tick * 5).padStart(5)}  ${rate.toFixed(0).padStart(6)}  ${pct(window, 0.5).toFixed(1).padStart(7)}  ${pct(window, 0.99).toFixed(1).padStart(7)}  ${String(b.backlog).padStart(7)}  ${b.age.toFixed(1).padStart(9)}  ${String(b.length).padStart(6)}`);
  }
  for (const deadline = Date.now() + 15_000; inFlight > 0 && Date.now() < deadline; ) await sleep(50);
  const loadSeconds = (performance.now() - t0) / 1000;
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, `${round(((cpuSeconds(pid) - cpuStart[k]) / loadSeconds) * 100, 0)}%`]));

  const drainStart = Date.now();
  let drained = false;
  while (Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
    if ((await sample()).backlog === 0) {
      drained = true;
      break;
    }
    await sleep(250);
  }
  const drainMs = Date.now() - drainStart;
  const items = await countItems(client);
  const memory = Number(await redis.memory('USAGE', stream, 'SAMPLES', '0'));
  const length = (await readStreamState(redis, stream)).length;
  const all = Float64Array.from(latencies.subarray(0, done)).sort();
  const summary = {
    targetRate: RATE,
    seconds: SECONDS,
    users: USERS,
    sent: sent - skipped,
    skipped,
    accepted,
    statuses: Object.fromEntries(statuses),
    achievedRate: round(accepted / SECONDS),
    putLatencyMs: { p50: round(pct(all, 0.5), 2), p90: round(pct(all, 0.9), 2), p99: round(pct(all, 0.99), 2), max: round(pct(all, 1), 1) },
    maxBacklog,
    maxOldestAgeS: round(maxAge),
    drainedAfterLoadMs: drained ? drainMs : null,
    dynamoItems: items,
    exactlyAccepted: items === accepted,
    streamBytesPerEntry: length ? round(memory / length) : null,
    cpuDuringLoad: cpu,
  };
  console.log(JSON.stringify(summary, null, 2));
  // bench/results/ (git-ignored) at the repository root, wherever this file was compiled to.
  const results = new URL(`../../${ext === '.ts' ? '' : '../'}bench/results/`, import.meta.url);
  mkdirSync(results, { recursive: true });
  writeFileSync(new URL(`history-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, results), JSON.stringify(summary, null, 2) + '\n');
  agent.destroy();
}

/** Items in the table (a paged Scan with Select COUNT). */
async function countItems(client: DynamoDBClient): Promise<number> {
  let n = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: TABLE, Select: 'COUNT', ExclusiveStartKey: start }));
    n += page.Count ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return n;
}

/** The pid listening on a loopback port (the redis-server helper does not expose it), via /proc. */
function listenerPid(port: number): number {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[1]?.endsWith(hex) && cols[3] === '0A') inodes.add(cols[9]);
      }
    } catch {
      /* no such table */
    }
  }
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(pid);
      }
    } catch {
      /* gone, or not ours to read */
    }
  }
  return NaN;
}

await main();
