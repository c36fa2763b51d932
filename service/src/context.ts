// What every route and socket handler needs, built once in main.ts.
import type { Tokens } from './auth/token.js';
import type { AutoCooldown } from './auto-cooldown.js';
import type { Config } from './config.js';
import type { LiveControls } from './controls.js';
import type { Fanout } from './fanout.js';
import type { HistoryPage, HistoryQuery } from './history/pages.js';
import type { NetworkLimits } from './limits/network-limits.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Moderation } from './moderation/services.js';
import type { Projects } from './projects/service.js';
import type { CanvasStore, Placement } from './store/store.js';

/** Questions the history answers (DynamoDB in Redis mode, the local log in embedded mode). */
export interface PixelHistory {
  /** The latest placements of one pixel, newest first. */
  pixel(x: number, y: number, limit: number): Promise<Placement[]>;
  /** One user's placements with placedAt in [fromMs, toMs], oldest first (moderation). */
  byUser?(userId: string, fromMs: number, toMs: number): Promise<Placement[]>;
  /** Every placement with placedAt in [fromMs, toMs], oldest first (moderation, replays). */
  inRange?(fromMs: number, toMs: number): Promise<Placement[]>;
  /** The same questions a page at a time, resumable from a page's cursor (rollback jobs: history/pages.ts). */
  pages?(q: HistoryQuery, cursor: string | undefined, pageSize: number): AsyncIterable<HistoryPage>;
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
  /** The operators' live controls: cooldown, freeze, one colour (controls.ts). */
  controls: LiveControls;
  /** Set with AUTO_COOLDOWN=1: counts who places, for the automatic cooldown. */
  autoCooldown?: AutoCooldown;
  log: Logger;
  metrics: Metrics;
  /** Fleet-wide per-network budgets: requests, new sessions, placements, socket opens, resumes. */
  limits: NetworkLimits;
  lifecycle: Lifecycle;
  history?: PixelHistory;
  /** Moderators, the moderation log, network bans, rollback jobs (moderation/services.ts). */
  moderation: Moderation;
  /** Community projects: templates, live completion, damage alerts (projects/service.ts). */
  projects: Projects;
}
