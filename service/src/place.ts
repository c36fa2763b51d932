// The one path every placement takes after validation, whether it came over HTTP or a WebSocket.
import type { Context } from './context.js';
import type { PixelInput } from './wire/messages.js';
import { ApiError } from './wire/errors.js';
import { PALETTE } from './wire/palette.js';

const UNAVAILABLE_KIND: Record<string, string> = { history_backlog_full: 'backlog', fenced: 'fenced' };
const UNAVAILABLE_MESSAGE: Record<string, string> = {
  history_backlog_full: 'history is catching up; try again shortly',
  fenced: 'placements are stopped: the canvas store lost its most recent placements and is being restored (no seq is ever given out twice); try again later',
  starting: 'the canvas store is not ready yet; try again',
};

export interface Placed {
  seq: number;
  nextPlacementAt: number;
}

/** Refusals placePixel counts in tessera_rejections_total itself (the HTTP route counts the others). */
export const COUNTED_BY_PLACE: ReadonlySet<string> = new Set(['cooldown', 'banned', 'unavailable', 'frozen', 'color_not_allowed', 'rate_limited', 'network_banned']);

/** The operators' controls (controls.ts), as this container knows them: refusals before the store is asked. */
function checkControls(ctx: Context, pixel: PixelInput): void {
  const c = ctx.controls;
  let refusal: ApiError | undefined;
  if (!c.ready) refusal = new ApiError('unavailable', UNAVAILABLE_MESSAGE.starting);
  else if (c.frozen) refusal = new ApiError('frozen', 'the canvas is frozen by the moderators: no pixel can be placed right now');
  else if (c.onlyColor !== null && pixel.color !== c.onlyColor) {
    refusal = new ApiError('color_not_allowed', `only colour ${c.onlyColor} (${PALETTE[c.onlyColor]}) can be placed right now`, { onlyColor: c.onlyColor });
  }
  if (!refusal) return;
  ctx.metrics.rejections.inc({ reason: refusal.code === 'unavailable' ? 'unavailable_store' : refusal.code });
  throw refusal;
}

/** Places a validated pixel for a user from a client address; throws ApiError (frozen, color_not_allowed, rate_limited, cooldown, banned, unavailable) when refused. */
export async function placePixel(ctx: Context, userId: string, pixel: PixelInput, address: string): Promise<Placed> {
  checkControls(ctx, pixel);
  // Bans by network (moderation/net-bans.ts): the fine prefix hash is also what the placement carries into the history.
  const net = ctx.moderation.netHashes(address);
  if (ctx.moderation.netBans.banned([net.fine, net.coarse])) {
    ctx.metrics.rejections.inc({ reason: 'network_banned' });
    throw new ApiError('network_banned', 'the moderators stopped placements from this network');
  }
  // The cooldown is per user; this is per network, so many sessions from one network do not multiply it.
  const refused = await ctx.limits.spend('placements', address);
  if (refused) throw refused;
  ctx.lifecycle.inFlight++;
  const started = process.hrtime.bigint();
  try {
    // The live cooldown (a moderator's, the automatic one, or COOLDOWN_MS): the store checks and sets it atomically.
    const r = await ctx.store.place({ ...pixel, userId, net: net.fine }, ctx.controls.cooldownMs);
    if (r.ok) {
      ctx.autoCooldown?.note(userId);
      ctx.metrics.placements.inc();
      ctx.metrics.placementLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return { seq: r.seq, nextPlacementAt: r.nextPlacementAt };
    }
    ctx.metrics.rejections.inc({ reason: r.error === 'unavailable' ? `unavailable_${UNAVAILABLE_KIND[r.reason] ?? 'store'}` : r.error });
    // Any other unavailable reason from the Redis store is the error or timeout of its placement call.
    if (r.error === 'unavailable' && ctx.config.redisUrl && !Object.hasOwn(UNAVAILABLE_MESSAGE, r.reason)) ctx.metrics.redisErrors.inc({ op: 'place' });
    if (r.error === 'cooldown') {
      throw new ApiError('cooldown', `wait ${Math.ceil(r.retryAfterMs / 1000)} s before placing again`, { retryAfterMs: r.retryAfterMs });
    }
    if (r.error === 'banned') throw new ApiError('banned', 'this account may not place pixels');
    throw new ApiError('unavailable', UNAVAILABLE_MESSAGE[r.reason] ?? 'the canvas store is unreachable; try again');
  } finally {
    ctx.lifecycle.inFlight--;
  }
}
