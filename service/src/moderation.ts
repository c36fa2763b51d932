// Moderation actions: bans (by user or by network) and live controls, each written to the moderation log
// (moderation/modlog.ts) with the moderator's name. Rollbacks are jobs: moderation/rollback-job.ts.
import type { Context } from './context.js';
import type { ControlsView } from './controls.js';
import type { ControlsPatch } from './store/controls-store.js';

/** Who rollback restorations are placed as. */
export const MODERATOR_USER = 'moderator';

export interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
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
  await ctx.moderation.log.append({ action: banned ? 'ban' : 'unban', userId, by });
  ctx.log.info({ userId, banned, by }, 'moderation: ban changed');
}

/** Bans a network prefix hash (as the history and the log show it): its placements are refused fleet-wide. */
export async function setNetBan(ctx: Context, net: string, banned: boolean, by: string): Promise<void> {
  await ctx.moderation.netBans.set(net, banned);
  await ctx.moderation.log.append({ action: banned ? 'ban_network' : 'unban_network', net, by });
  ctx.log.info({ net, banned, by }, 'moderation: network ban changed');
}

/**
 * Changes the live controls fleet-wide and logs what changed, old → new (effective values: a cooldown set
 * back to null shows the COOLDOWN_MS it returns to).
 */
export async function setControls(ctx: Context, patch: ControlsPatch, by: string): Promise<ControlsView> {
  const { before, after, version } = await ctx.controls.update(patch);
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const k of Object.keys(patch) as (keyof ControlsPatch)[]) changes[k] = { from: before[k], to: after[k] };
  await ctx.moderation.log.append({ action: 'controls', by, changes, version });
  ctx.log.info({ changes, by, version }, 'moderation: controls changed');
  return ctx.controls.view();
}
