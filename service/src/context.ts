// What every route and socket handler needs, built once in main.ts.
import type { Tokens } from './auth/token.js';
import type { Config } from './config.js';
import type { Fanout } from './fanout.js';
import type { RateLimiter } from './http/rate-limit.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { CanvasStore, Placement } from './store/store.js';

/** The latest placements of one pixel, newest first (the history sink answers it). */
export interface PixelHistory {
  pixel(x: number, y: number, limit: number): Promise<Placement[]>;
}

export interface Lifecycle {
  draining: boolean;
  inFlight: number;
}

export interface Context {
  config: Config;
  store: CanvasStore;
  tokens: Tokens;
  fanout: Fanout;
  log: Logger;
  metrics: Metrics;
  requestLimit: RateLimiter;
  sessionLimit: RateLimiter;
  lifecycle: Lifecycle;
  history?: PixelHistory;
}
