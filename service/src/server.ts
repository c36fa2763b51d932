// Wiring only: config → store → fanout → routes and socket → listen; and the SIGTERM drain.
import type { TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { Tokens } from './auth/token.js';
import type { Config } from './config.js';
import type { Context, PixelHistory } from './context.js';
import { AutoCooldown, LocalActiveUsers, RedisActiveUsers } from './auto-cooldown.js';
import { LiveControls } from './controls.js';
import { Fanout, UPDATES_TOPIC } from './fanout.js';
import { registerAdmin } from './http/admin.js';
import { EmfEmitter } from './emf.js';
import { registerBoard } from './http/board.js';
import { registerHealth } from './http/health.js';
import { registerPixel } from './http/pixel.js';
import { registerProjects } from './http/projects.js';
import { registerSession } from './http/session.js';
import { registerStatic } from './http/static.js';
import { registerTimetravel } from './http/timetravel.js';
import { MemoryBudget } from './limits/memory-budget.js';
import { NetworkLimits } from './limits/network-limits.js';
import { RedisBudget } from './limits/redis-budget.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { createModeration } from './moderation/services.js';
import { prefixHashKey } from './network-prefix.js';
import { createProjects } from './projects/create.js';
import { FileControlsStore, RedisControlsStore } from './store/controls-store.js';
import { EmbeddedStore } from './store/embedded.js';
import { RedisStore } from './store/redis.js';
import type { CanvasStore } from './store/store.js';
import { createTimetravel } from './timetravel/service.js';
import { loadUws, uwsRuntime } from './uws.js';
import { GOING_AWAY, registerSocket, type SocketData } from './ws/socket.js';

const CONTROLS_POLL_MS = 1000;

export interface Server {
  port: number;
  ctx: Context;
  /** The drain: not ready → stop listening → finish placements → close sockets "going away" → close the store. */
  stop(): Promise<void>;
}

/** Extension points for other modules (history, moderation) to add routes and services. */
export interface Extension {
  routes?(app: TemplatedApp, ctx: Context): void;
  start?(ctx: Context): Promise<void> | void;
  stop?(): Promise<void> | void;
  history?: PixelHistory;
}

/** `cooldownMs`: the live cooldown when it is known before the store (embedded: it restores cooldowns with it). */
export function createStore(config: Config, log: Logger, metrics: Metrics, cooldownMs = config.cooldownMs): CanvasStore {
  if (config.redisUrl) {
    return new RedisStore({
      url: config.redisUrl,
      canvasId: config.canvasId,
      width: config.width,
      height: config.height,
      cooldownMs: config.cooldownMs,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      maxStreamLength: config.historyBacklogMax,
      log: log.child({ component: 'redis' }),
      metrics,
    });
  }
  return new EmbeddedStore({
    dataDir: config.dataDir,
    width: config.width,
    height: config.height,
    cooldownMs,
    retentionMs: config.streamRetentionMs,
    snapshotIntervalMs: config.snapshotIntervalMs,
    log: log.child({ component: 'embedded' }),
  });
}

export async function startServer(config: Config, log: Logger, extensions: Extension[] = []): Promise<Server> {
  const uws = loadUws();
  const runtime = uwsRuntime();
  const metrics = new Metrics();
  metrics.uwsNative.set(runtime.native ? 1 : 0);
  metrics.runtime.set({ node: runtime.node, uws: runtime.uws, native: String(runtime.native) }, 1);
  // Embedded, the controls are a file read before the store; in Redis mode, a hash read through its connection.
  const controlsFile = config.redisUrl ? undefined : new FileControlsStore(config.dataDir);
  const store = createStore(config, log, metrics, controlsFile?.stored.cooldownMs ?? config.cooldownMs);
  if (store instanceof RedisStore) await store.connect();
  const redisStore = store instanceof RedisStore ? store : undefined;
  const autoCooldown = config.autoCooldown
    ? new AutoCooldown(
        redisStore ? new RedisActiveUsers(redisStore.redis, redisStore.keys.active) : new LocalActiveUsers(),
        { baseMs: config.cooldownMs, ...config.autoCooldown },
        log.child({ component: 'auto-cooldown' }),
      )
    : undefined;
  const controls = new LiveControls({
    store: controlsFile ?? new RedisControlsStore(redisStore!.redis, redisStore!.keys.controls),
    defaultCooldownMs: config.cooldownMs,
    autoCooldownMs: autoCooldown && (() => autoCooldown.current),
    // Every container reads the shared hash once a second: a change reaches the whole fleet within about that.
    pollMs: controlsFile ? 0 : CONTROLS_POLL_MS,
    log: log.child({ component: 'controls' }),
  });
  await autoCooldown?.start();
  autoCooldown?.onChange(() => controls.refresh());
  await controls.start();

  const app = uws.App();
  const sockets = new Set<WebSocket<SocketData>>();
  const fanout = new Fanout({
    store,
    publisher: app,
    width: config.width,
    intervalMs: config.batchIntervalMs,
    maxIntervalMs: config.frameIntervalMaxMs,
    frameBudget: config.fanoutFrameBudget,
    watchers: () => sockets.size,
    log: log.child({ component: 'fanout' }),
    metrics,
  });
  const ctx: Context = {
    config,
    store,
    tokens: new Tokens([config.sessionSecret, ...(config.sessionSecretPrevious ? [config.sessionSecretPrevious] : [])], config.sessionTtlS),
    fanout,
    controls,
    autoCooldown,
    log,
    metrics,
    limits: new NetworkLimits({
      budget: redisStore ? new RedisBudget(redisStore.redis, `{tessera:${config.canvasId}}`) : new MemoryBudget(),
      limits: {
        requests: config.requestsPerMinute,
        sessions: config.sessionsPerMinute,
        placements: config.placementsPerMinute,
        sockets: config.socketsPerMinute,
        resumes: config.resumesPerMinute,
        coarseFactor: config.rateLimitCoarseFactor,
      },
      hashKey: prefixHashKey(config.sessionSecret),
      metrics,
      log: log.child({ component: 'limits' }),
    }),
    lifecycle: { draining: false, inFlight: 0 },
    history: extensions.find((e) => e.history)?.history,
    moderation: await createModeration(config, store, log),
    projects: createProjects(config, store, app, log, metrics),
  };

  registerHealth(app, ctx);
  registerBoard(app, ctx);
  registerSession(app, ctx);
  registerPixel(app, ctx);
  registerAdmin(app, ctx);
  registerProjects(app, ctx);
  // Time travel: keyframes + ranges (timetravel/), written under a lock in Redis mode, DATA_DIR embedded.
  const timetravel = createTimetravel(config, store, log, metrics.registry);
  registerTimetravel(app, ctx, timetravel);
  for (const ext of extensions) ext.routes?.(app, ctx);
  registerSocket(app, ctx, sockets);
  registerStatic(app, ctx);

  // The projects' tracker sees every placement the fan-out publishes, in seq order (projects/tracker.ts).
  fanout.onPublished(ctx.projects.onPublished);
  await fanout.start();
  await ctx.projects.start();
  controls.onChange(() => app.publish(UPDATES_TOPIC, controls.message, false));
  for (const ext of extensions) await ext.start?.(ctx);
  await timetravel.start();

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${config.host}:${config.port}`))));
  });
  const port = uws.us_socket_local_port(listenSocket);
  log.info({ port, store: config.redisUrl ? 'redis' : 'embedded', ...runtime, width: config.width, height: config.height }, 'tessera listening');
  const emf = config.emfIntervalMs > 0 ? new EmfEmitter({ registry: metrics.registry, intervalMs: config.emfIntervalMs, canvasId: config.canvasId, log }) : undefined;
  await emf?.start();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      ctx.lifecycle.draining = true;
      log.info({ delayMs: config.shutdownDelayMs, sockets: sockets.size }, 'draining: readyz now 503');
      await sleep(config.shutdownDelayMs);
      uws.us_listen_socket_close(listenSocket);
      const deadline = Date.now() + 3000;
      while (ctx.lifecycle.inFlight > 0 && Date.now() < deadline) await sleep(10);
      // Rollback jobs see the drain and checkpoint at their page's end (resumable: moderation/rollback-job.ts).
      await ctx.moderation.rollbacks.settled();
      fanout.stop();
      ctx.projects.stop();
      controls.stop();
      autoCooldown?.stop();
      // The last, partial interval, while the watchers are still connected.
      await emf?.stop();
      for (const ws of [...sockets]) ws.end(GOING_AWAY, 'server going away');
      for (const ext of extensions) await ext.stop?.();
      await timetravel.stop();
      await store.close();
      log.info('stopped');
    })());
  return { port, ctx, stop };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
