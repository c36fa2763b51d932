// The system in a box for the fault tests: bench/cluster's startCluster() plus the pieces a fault needs that
// the box itself does not offer — adding a container to HAProxy at run time (a rolling deploy starts the new
// task before stopping the old), a Redis/DynamoDB client for the checks, and a teardown that leaves nothing.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import type { Test } from 'tap';
import { containerEnv, HISTORY_TABLE, livePids, startCluster, type Cluster, type ClusterOptions } from '../../../../bench/cluster.js';
import { Container, REPO_ROOT } from '../../../../bench/cluster/container.js';
import { httpStatus } from '../../../../bench/cluster/ports.js';
import { canvasKeys } from '../../../src/store/redis.js';
import type { CheckOptions } from './invariants.js';
import type { ListenerFleet } from './listeners.js';
import type { Attempt } from './load.js';

export { livePids };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Settings every fault test shares; each test adds its own. Rate limits are off (all load comes from 127.0.0.1). */
export const FAULT_ENV: Record<string, string> = {
  CANVAS_WIDTH: '200',
  CANVAS_HEIGHT: '200',
  // Every placement comes from a user of its own, so the real cooldown stays on and never refuses one.
  COOLDOWN_MS: '300000',
  SHUTDOWN_DELAY_MS: '300',
  HISTORY_CLAIM_IDLE_MS: '2000',
  STREAM_TRIM_INTERVAL_MS: '1000',
  LOG_LEVEL: 'info',
};

export interface BoxOptions extends Omit<ClusterOptions, 'env' | 'onExit'> {
  env?: Record<string, string>;
  /** DynamoDB endpoint the caller runs itself (e.g. behind a proxy it can take down); implies dynamo: false. */
  dynamoEndpoint?: string;
  /** Where the checks read the history (default: dynamoEndpoint) — straight to DynamoDB, not through the caller's proxy. */
  dynamoCheckEndpoint?: string;
}

export interface Box {
  cluster: Cluster;
  url: string;
  wsUrl: string;
  secret: string;
  width: number;
  height: number;
  env: Record<string, string>;
  /** A separate connection for the checks (never the containers'). */
  redis: Redis;
  keys: ReturnType<typeof canvasKeys>;
  dynamo: DynamoDBClient | undefined;
  table: string;
  /** Every container now serving or started by the test, with its HAProxy server name. */
  live(): { name: string; url: string; pid: number | undefined }[];
  /** A process the test stops or kills on purpose (container-1, redis, …): not reported as a crash. */
  expectExit(name: string): void;
  /** Unexpected exits (a crash the test did not cause). */
  exits: { name: string; code: number | null; signal: NodeJS.Signals | null; at: number }[];
  /** Starts one more container and adds it to HAProxy (as ECS registers a new task); resolves once HAProxy has it UP. */
  addContainer(): Promise<AddedContainer>;
  /** HAProxy's view: c1… → UP / DOWN / MAINT… */
  servers(): Promise<Map<string, string>>;
  /** Resolves with the ms it took until every live container answers /readyz 200 and HAProxy has them all UP. */
  waitAllReady(timeoutMs?: number): Promise<number>;
  /** The last lines each container logged (for a failing test's diagnostics). */
  logs(bytes?: number): string;
  stop(): Promise<void>;
}

export interface AddedContainer {
  name: string;
  url: string;
  readonly pid: number | undefined;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Takes the server out of HAProxy (after it exited). */
  remove(): Promise<void>;
  log(): string;
}

export async function startBox(t: Test, opts: BoxOptions = {}): Promise<Box> {
  const env = { ...FAULT_ENV, ...opts.env };
  if (opts.dynamoEndpoint) {
    Object.assign(env, {
      DYNAMODB_TABLE: HISTORY_TABLE,
      DYNAMODB_ENDPOINT: opts.dynamoEndpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
  }
  const exits: Box['exits'] = [];
  let stopping: Promise<void> | undefined;
  const expected = new Set<string>();
  const cluster = await startCluster({
    ...opts,
    dynamo: opts.dynamoEndpoint ? false : opts.dynamo,
    env,
    onExit: (name, code, signal) => {
      // Each expected exit is consumed once: a restarted process that later crashes is reported.
      if (!expected.delete(name) && !stopping) exits.push({ name, code, signal, at: Date.now() });
    },
  });
  const redis = new Redis(cluster.redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 200, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  const dynamoEndpoint = opts.dynamoCheckEndpoint ?? opts.dynamoEndpoint ?? cluster.dynamo?.endpoint;
  const dynamo = dynamoEndpoint
    ? new DynamoDBClient({ endpoint: dynamoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 3 })
    : undefined;
  const added: { name: string; c: Container; removed: boolean }[] = [];
  let nextIndex = cluster.containers.length + 1;

  const servers = async () => new Map((await cluster.haproxy.servers()).map((s) => [s.name, s.status]));
  const live = () => [
    ...cluster.containers.filter((c) => c.pid !== undefined).map((c) => ({ name: `c${c.index}`, url: c.url, pid: c.pid })),
    ...added.filter((a) => !a.removed && a.c.pid !== undefined).map((a) => ({ name: a.name, url: a.c.url, pid: a.c.pid })),
  ];

  const waitAllReady = async (timeoutMs = 30_000) => {
    const started = Date.now();
    for (;;) {
      const targets = live();
      const statuses = await Promise.all(targets.map((c) => httpStatus(`${c.url}/readyz`)));
      const lb = await servers().catch(() => new Map<string, string>());
      if (targets.length > 0 && statuses.every((s) => s === 200) && targets.every((c) => lb.get(c.name) === 'UP')) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`not all ready after ${timeoutMs} ms: readyz ${JSON.stringify(statuses)}, haproxy ${JSON.stringify([...lb])}`);
      await sleep(100);
    }
  };

  const addContainer = async (): Promise<AddedContainer> => {
    const index = nextIndex++;
    const name = `c${index}`;
    const c = await Container.create({
      index,
      dir: cluster.dir,
      root: REPO_ROOT,
      env: containerEnv({ redisUrl: cluster.redis.url, secret: cluster.secret, dynamo: cluster.dynamo, extra: env }),
    });
    c.process.onExit = (code, signal) => {
      if (!expected.delete(c.process.name) && !stopping) exits.push({ name: c.process.name, code, signal, at: Date.now() });
    };
    const entry = { name, c, removed: false };
    added.push(entry);
    await c.start();
    // Dynamic servers do not inherit default-server: give them the same check settings explicitly.
    await haproxy(cluster, `add server tessera/${name} 127.0.0.1:${c.port} check inter 1s fall 2 rise 2`);
    await haproxy(cluster, `enable health tessera/${name}`);
    await haproxy(cluster, `enable server tessera/${name}`);
    const deadline = Date.now() + 20_000;
    while ((await servers()).get(name) !== 'UP') {
      if (Date.now() > deadline) throw new Error(`haproxy did not mark ${name} UP: ${JSON.stringify([...(await servers())])}`);
      await sleep(100);
    }
    return {
      name,
      url: c.url,
      get pid() {
        return c.pid;
      },
      kill: (signal) => {
        expected.add(c.process.name);
        return c.kill(signal);
      },
      remove: async () => {
        await haproxy(cluster, `disable server tessera/${name}`);
        await haproxy(cluster, `del server tessera/${name}`);
        entry.removed = true;
      },
      log: () => c.process.log(),
    };
  };

  const stop = () =>
    (stopping ??= (async () => {
      redis.disconnect();
      dynamo?.destroy();
      await Promise.all(added.map((a) => a.c.stop().catch(() => undefined)));
      await cluster.stop();
    })());

  const box: Box = {
    cluster,
    url: cluster.url,
    wsUrl: cluster.url.replace(/^http/, 'ws'),
    secret: cluster.secret,
    width: Number(env.CANVAS_WIDTH),
    height: Number(env.CANVAS_HEIGHT),
    env,
    redis,
    keys: canvasKeys('main'),
    dynamo,
    table: HISTORY_TABLE,
    live,
    exits,
    expectExit: (n) => expected.add(n),
    addContainer,
    servers,
    waitAllReady,
    logs: (bytes = 3000) =>
      [...cluster.containers.map((c) => [`c${c.index}`, c.log()] as const), ...added.map((a) => [a.name, a.c.process.log()] as const)]
        .map(([n, l]) => `--- ${n} ---\n${l.slice(-bytes)}`)
        .join('\n'),
    stop,
  };
  t.teardown(async () => {
    if (!t.passing()) console.error(`[${t.name}] container logs:\n${box.logs()}`);
    await stop();
  });
  return box;
}

async function haproxy(cluster: Cluster, cmd: string): Promise<void> {
  const out = (await cluster.haproxy.command(cmd)).trim();
  // Success answers are empty or say so; anything else is an error message.
  if (out && !/^(New server registered|Server deleted|$)/i.test(out)) throw new Error(`haproxy "${cmd}": ${out}`);
}

/** Polls until `check` returns a truthy value; resolves with it and the ms it took. */
export async function until<T>(what: string, check: () => Promise<T | false | null | undefined | 0>, timeoutMs = 30_000, everyMs = 100): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return { value: last as T, ms: Date.now() - started };
    } catch (err) {
      last = err;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(everyMs);
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What every fault test checks against: this box's board, stream and history, and one listener fleet. */
export function boxCheck(box: Box, attempts: Attempt[], fleet: ListenerFleet, fleetSince: number): CheckOptions {
  return {
    url: box.url,
    width: box.width,
    height: box.height,
    attempts,
    redis: box.redis,
    stream: box.keys.stream,
    dynamo: { client: box.dynamo!, table: box.table },
    fleets: [fleet],
    fleetSince,
  };
}
