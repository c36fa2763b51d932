// The one path every placement takes after validation, whether it came over HTTP or a WebSocket.
import type { Context } from './context.js';
import type { PixelInput } from './wire/messages.js';
import { ApiError } from './wire/errors.js';

export interface Placed {
  seq: number;
  nextPlacementAt: number;
}

/** Places a validated pixel for a user; throws ApiError (cooldown, banned, unavailable) when refused. */
export async function placePixel(ctx: Context, userId: string, pixel: PixelInput): Promise<Placed> {
  ctx.lifecycle.inFlight++;
  try {
    const r = await ctx.store.place({ ...pixel, userId });
    if (r.ok) {
      ctx.metrics.placements.inc();
      return { seq: r.seq, nextPlacementAt: r.nextPlacementAt };
    }
    ctx.metrics.rejections.inc({ reason: r.error === 'unavailable' ? `unavailable_${r.reason === 'history_backlog_full' ? 'backlog' : 'store'}` : r.error });
    if (r.error === 'cooldown') {
      throw new ApiError('cooldown', `wait ${Math.ceil(r.retryAfterMs / 1000)} s before placing again`, { retryAfterMs: r.retryAfterMs });
    }
    if (r.error === 'banned') throw new ApiError('banned', 'this account may not place pixels');
    throw new ApiError('unavailable', r.reason === 'history_backlog_full' ? 'history is catching up; try again shortly' : 'the canvas store is unreachable; try again');
  } finally {
    ctx.lifecycle.inFlight--;
  }
}
