// The system in a box: redis-server + DynamoDB Local + N Tessera containers + HAProxy, all on loopback.
// `npm run cluster [-- --containers N]` runs it until Ctrl-C; startCluster() is the API the benchmarks
// and the fault tests drive (kill a container, roll a deploy, stop Redis or DynamoDB).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Container, REPO_ROOT, serviceMain } from './cluster/container.js';
import { startDynamoLocal, type DynamoHandle } from './cluster/dynamo.js';
import { startHaproxy, type HaproxyHandle } from './cluster/haproxy.js';
import { livePids } from './cluster/process.js';
import { startRedisServer, type RedisHandle } from './cluster/redis.js';
import { nofileLimit } from './cluster/limits.js';

export interface ClusterOptions {
  containers?: number;
  /** SESSION_SECRET shared by every container (≥ 32 bytes); default: $SESSION_SECRET or a random one per run. */
  secret?: string;
  /** Extra container environment (e.g. COOLDOWN_MS, LOG_LEVEL, RATE_LIMIT_REQUESTS_PER_MIN). */
  env?: Record<string, string>;
  /** Start DynamoDB Local and hand DYNAMODB_TABLE/ENDPOINT to the containers (default true). */
  dynamo?: boolean;
  /**
   * Containers keep the service's default budgets and socket cap (limits/) instead of the box's, which are off
   * because every request comes from 127.0.0.1. For tests that pose as many networks through X-Forwarded-For.
   */
  defaultLimits?: boolean;
  /**
   * HAProxy keeps an X-Forwarded-For the client sent (adds one only when there is none): it stands in for the CDN,
   * which writes the viewer's address, so a test can pose as any address, IPv6 included, from loopback.
   */
  keepForwardedFor?: boolean;
  /** The frontend port (default: a free one). */
  port?: number;
  /** Told about every process exit after start (a crash, or a kill the caller made). */
  onExit?: (name: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface ClusterContainer {
  index: number;
  port: number;
  url: string;
  readonly pid: number | undefined;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export interface Cluster {
  /** The HAProxy frontend: what clients use. */
  url: string;
  secret: string;
  /** The DynamoDB table the history writer is told to use. */
  table: string;
  dir: string;
  containers: ClusterContainer[];
  redis: RedisHandle;
  dynamo: DynamoHandle | undefined;
  haproxy: HaproxyHandle;
  /** Stops everything (containers drain first) and removes the temp dir. */
  stop(): Promise<void>;
}

export const HISTORY_TABLE = 'tessera-history';

/** Container settings of the box; rate limits are off because every request comes from 127.0.0.1. */
export function containerEnv(o: { redisUrl: string; secret: string; dynamo?: DynamoHandle; extra?: Record<string, string>; defaultLimits?: boolean }): Record<string, string> {
  return {
    REDIS_URL: o.redisUrl,
    SESSION_SECRET: o.secret,
    TRUSTED_PROXY_HOPS: '1',
    // Everything comes from 127.0.0.1, one network: its socket cap and budgets (limits/) are off.
    ...(o.defaultLimits
      ? {}
      : {
          RATE_LIMIT_REQUESTS_PER_MIN: '0',
          RATE_LIMIT_SESSIONS_PER_MIN: '0',
          WS_MAX_PER_NETWORK: '0',
          RATE_LIMIT_SOCKETS_PER_MIN: '0',
          RATE_LIMIT_RESUMES_PER_MIN: '0',
          RATE_LIMIT_PLACEMENTS_PER_MIN: '0',
        }),
    LOG_LEVEL: 'warn',
    ...(o.dynamo
      ? {
          DYNAMODB_TABLE: HISTORY_TABLE,
          DYNAMODB_ENDPOINT: o.dynamo.endpoint,
          // DynamoDB Local accepts any credentials; explicit ones keep the SDK off the instance-metadata address.
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_EC2_METADATA_DISABLED: 'true',
        }
      : {}),
    ...o.extra,
  };
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const n = opts.containers ?? 2;
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error(`containers must be 1-16, got ${n}`);
  if (!existsSync(serviceMain(REPO_ROOT))) throw new Error(`${serviceMain(REPO_ROOT)} is missing: run \`npm run build\` first`);
  const secret = opts.secret ?? process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url');
  if (Buffer.byteLength(secret) < 32) throw new Error('the session secret must be at least 32 bytes');
  const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'));
  const started: { stop(): Promise<void> }[] = [];
  try {
    const redis = await startRedisServer({ dir });
    started.push(redis.process);
    const dynamo = opts.dynamo === false ? undefined : await startDynamoLocal();
    if (dynamo) started.push(dynamo.process);
    const env = containerEnv({ redisUrl: redis.url, secret, dynamo, extra: opts.env, defaultLimits: opts.defaultLimits });
    const containers = await Promise.all(Array.from({ length: n }, (_, i) => Container.create({ index: i + 1, dir, root: REPO_ROOT, env })));
    started.push(...containers);
    await Promise.all(containers.map((c) => c.start()));
    const haproxy = await startHaproxy({ dir, backends: containers.map((c) => c.port), port: opts.port, nofile: nofileLimit(), keepForwardedFor: opts.keepForwardedFor });
    started.push(haproxy.process);
    for (const p of [redis.process, dynamo?.process, ...containers.map((c) => c.process), haproxy.process]) {
      if (p) p.onExit = (code, signal) => opts.onExit?.(p.name, code, signal);
    }
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await Promise.all(containers.map((c) => c.stop()));
        await haproxy.process.stop();
        await Promise.all([dynamo?.process.stop(), redis.process.stop()]);
        rmSync(dir, { recursive: true, force: true });
      })());
    return {
      url: haproxy.url,
      secret,
      table: HISTORY_TABLE,
      dir,
      containers: containers.map(view),
      redis,
      dynamo,
      haproxy,
      stop,
    };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

function view(c: Container): ClusterContainer {
  return {
    index: c.index,
    port: c.port,
    url: c.url,
    get pid() {
      return c.pid;
    },
    kill: (signal) => c.kill(signal),
    restart: () => c.restart(),
    start: () => c.start(),
    stop: () => c.stop(),
    log: () => c.process.log(),
  };
}

export { livePids };

function parseArgs(argv: string[]): ClusterOptions {
  const opts: ClusterOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a.startsWith('--containers')) opts.containers = Number(value());
    else if (a.startsWith('--port')) opts.port = Number(value());
    else if (a === '--no-dynamo') opts.dynamo = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run cluster [-- --containers N] [--port P] [--no-dynamo]\n  env SESSION_SECRET fixes the secret; COOLDOWN_MS, LOG_LEVEL… are passed to the containers.');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return opts;
}

/** Container settings a user may set in the shell for `npm run cluster`. */
function passthroughEnv(): Record<string, string> {
  const names = ['COOLDOWN_MS', 'LOG_LEVEL', 'CANVAS_WIDTH', 'CANVAS_HEIGHT', 'BATCH_INTERVAL_MS', 'SHUTDOWN_DELAY_MS', 'HISTORY_BACKLOG_MAX', 'ADMIN_TOKEN', 'STREAM_RETENTION_MS'];
  return Object.fromEntries(names.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  // A signal before the box is up: exiting runs the process-exit hook, which kills every child started so far.
  const early = () => process.exit(130);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, early);
  console.log(`starting redis-server, DynamoDB Local, ${opts.containers ?? 2} containers and haproxy…`);
  let signalled = false;
  const onExit = (name: string, code: number | null, signal: NodeJS.Signals | null) => {
    if (!signalled) console.error(`${name} exited (code ${code}, signal ${signal}); the rest keeps running`);
  };
  const cluster = await startCluster({ ...opts, env: passthroughEnv(), onExit });
  console.log(`\nTessera box is up: ${cluster.url}/`);
  console.log(`  SESSION_SECRET=${cluster.secret}`);
  console.log(`  redis      ${cluster.redis.url} (pid ${cluster.redis.process.pid}, AOF everysec, dir ${cluster.redis.dir})`);
  if (cluster.dynamo) console.log(`  dynamodb   ${cluster.dynamo.endpoint} (pid ${cluster.dynamo.process.pid}, in memory; table ${cluster.table})`);
  for (const c of cluster.containers) console.log(`  container  ${c.url} (pid ${c.pid})`);
  console.log(`  haproxy    ${cluster.url} (pid ${cluster.haproxy.process.pid}, config ${cluster.haproxy.configFile})`);
  console.log('Ctrl-C stops everything.');
  const shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    console.log(`\n${signal}: stopping…`);
    cluster.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.off(s, early);
    process.on(s, () => shutdown(s));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`cluster: ${(err as Error).message}`);
    process.exit(1);
  });
}
