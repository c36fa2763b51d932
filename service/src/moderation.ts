// Moderation: bans, and rollbacks that restore pixels as ordinary new placements so every screen follows.
import type { Context } from './context.js';
import type { ControlsView } from './controls.js';
import type { ControlsPatch } from './store/controls-store.js';
import type { Placement } from './store/store.js';

export const MODERATOR_USER = 'moderator';

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface RollbackRequest {
  userId?: string;
  rect?: Rect;
  fromMs: number;
  toMs: number;
}

export class ModerationError extends Error {
  constructor(
    readonly code: 'history_unavailable',
    message: string,
  ) {
    super(message);
  }
}

export async function setBan(ctx: Context, userId: string, banned: boolean, by: string): Promise<void> {
  await ctx.store.setBanned(userId, banned);
  await ctx.store.recordModeration({ at: Date.now(), action: banned ? 'ban' : 'unban', userId, by });
  ctx.log.info({ userId, banned, by }, 'moderation: ban changed');
}

/**
 * Changes the live controls fleet-wide and logs what changed, old → new (effective values: a cooldown set
 * back to null shows the COOLDOWN_MS it returns to).
 */
export async function setControls(ctx: Context, patch: ControlsPatch, by: string): Promise<ControlsView> {
  const { before, after, version } = await ctx.controls.update(patch);
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const k of Object.keys(patch) as (keyof ControlsPatch)[]) changes[k] = { from: before[k], to: after[k] };
  await ctx.store.recordModeration({ at: Date.now(), action: 'controls', by, changes, version });
  ctx.log.info({ changes, by, version }, 'moderation: controls changed');
  return ctx.controls.view();
}

const inRect = (p: Placement, r: Rect | undefined) => !r || (p.x >= r.x0 && p.x <= r.x1 && p.y >= r.y0 && p.y <= r.y1);

/**
 * Undoes the placements selected by user and/or rectangle in a time range: each pixel whose current
 * colour comes from one of them goes back to the colour of the latest placement before it that is not
 * selected (white when there is none). Pixels painted over since by others are left alone.
 */
export async function rollback(ctx: Context, req: RollbackRequest, by: string): Promise<{ selected: number; restored: number }> {
  const h = ctx.history;
  const selected = req.userId
    ? await (h?.byUser ? h.byUser(req.userId, req.fromMs, req.toMs) : missing('byUser'))
    : await (h?.inRange ? h.inRange(req.fromMs, req.toMs) : missing('inRange'));
  const targets = selected.filter((p) => inRect(p, req.rect) && (!req.userId || p.userId === req.userId));
  const chosen = new Set(targets.map((p) => p.seq));
  const pixels = new Map<number, Placement>();
  for (const p of targets) pixels.set(p.y * ctx.config.width + p.x, p);
  let restored = 0;
  for (const p of pixels.values()) {
    const past = await h!.pixel(p.x, p.y, 50);
    if (past.length === 0 || !chosen.has(past[0].seq)) continue;
    const before = past.find((q) => !chosen.has(q.seq));
    const r = await ctx.store.place({ x: p.x, y: p.y, color: before?.color ?? 0, userId: MODERATOR_USER }, 0);
    if (!r.ok) throw new Error(`rollback placement refused: ${r.error}`);
    restored++;
  }
  await ctx.store.recordModeration({ at: Date.now(), action: 'rollback', ...req, by, selected: targets.length, restored });
  ctx.log.info({ ...req, by, selected: targets.length, restored }, 'moderation: rollback');
  return { selected: targets.length, restored };
}

function missing(what: string): never {
  throw new ModerationError('history_unavailable', `rollback needs the history (${what}); configure DYNAMODB_TABLE or use the embedded store`);
}
