// Wiring only: config → store → fanout → routes and socket → listen; and the SIGTERM drain.
import type { TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { Tokens } from './auth/token.js';
import type { Config } from './config.js';
import type { Context, PixelHistory } from './context.js';
import { Fanout } from './fanout.js';
import { registerAdmin } from './http/admin.js';
import { EmfEmitter } from './emf.js';
import { registerBoard } from './http/board.js';
import { registerHealth } from './http/health.js';
import { registerPixel } from './http/pixel.js';
import { RateLimiter } from './http/rate-limit.js';
import { registerSession } from './http/session.js';
import { registerStatic } from './http/static.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { EmbeddedStore } from './store/embedded.js';
import { RedisStore } from './store/redis.js';
import type { CanvasStore } from './store/store.js';
import { loadUws, uwsRuntime } from './uws.js';
import { GOING_AWAY, registerSocket, type SocketData } from './ws/socket.js';

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

export function createStore(config: Config, log: Logger, metrics: Metrics): CanvasStore {
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
    cooldownMs: config.cooldownMs,
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
  const store = createStore(config, log, metrics);
  if (store instanceof RedisStore) await store.connect();

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
    log,
    metrics,
    requestLimit: new RateLimiter(config.requestsPerMinute),
    sessionLimit: new RateLimiter(config.sessionsPerMinute),
    lifecycle: { draining: false, inFlight: 0 },
    history: extensions.find((e) => e.history)?.history,
  };

  registerHealth(app, ctx);
  registerBoard(app, ctx);
  registerSession(app, ctx);
  registerPixel(app, ctx);
  registerAdmin(app, ctx);
  for (const ext of extensions) ext.routes?.(app, ctx);
  registerSocket(app, ctx, sockets);
  registerStatic(app, ctx);

  await fanout.start();
  for (const ext of extensions) await ext.start?.(ctx);

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
      fanout.stop();
      // The last, partial interval, while the watchers are still connected.
      await emf?.stop();
      for (const ws of [...sockets]) ws.end(GOING_AWAY, 'server going away');
      for (const ext of extensions) await ext.stop?.();
      await store.close();
      log.info('stopped');
    })());
  return { port, ctx, stop };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
