// GET /api/pixel?x=&y=[&limit=]: who placed this pixel, and what it was before (newest first).
import type { TemplatedApp } from 'uWebSockets.js';
import type { Context } from '../context.js';
import type { Placement } from '../store/store.js';
import { ApiError } from '../wire/errors.js';
import type { Parsed } from '../wire/messages.js';
import { admit } from './admit.js';
import { fail, sendError, sendJson } from './respond.js';

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 50;

export interface PixelQuery {
  x: number;
  y: number;
  limit: number;
}

function integer(params: URLSearchParams, key: string, min: number, max: number, def?: number): Parsed<number> {
  const raw = params.get(key);
  if (raw === null || raw === '') {
    return def === undefined ? { ok: false, message: `"${key}" is missing` } : { ok: true, value: def };
  }
  // Digits only: no "1e3", "0x10", " 5" or "-0" sneaking through Number().
  if (!/^\d{1,9}$/.test(raw)) return { ok: false, message: `"${key}" must be an integer` };
  const v = Number(raw);
  if (v < min || v > max) return { ok: false, message: `"${key}" must be between ${min} and ${max}` };
  return { ok: true, value: v };
}

export function parsePixelQuery(query: string, width: number, height: number): Parsed<PixelQuery> {
  const params = new URLSearchParams(query);
  const x = integer(params, 'x', 0, width - 1);
  if (!x.ok) return x;
  const y = integer(params, 'y', 0, height - 1);
  if (!y.ok) return y;
  const limit = integer(params, 'limit', 1, MAX_LIMIT, DEFAULT_LIMIT);
  if (!limit.ok) return limit;
  return { ok: true, value: { x: x.value, y: y.value, limit: limit.value } };
}

/** The latest placement at the top level; `history` holds the newest `limit` ones, the latest first. */
export function pixelBody(x: number, y: number, placements: Placement[]) {
  const [latest] = placements;
  return {
    x,
    y,
    color: latest.color,
    userId: latest.userId,
    placedAt: latest.placedAt,
    seq: latest.seq,
    history: placements.map((p) => ({ seq: p.seq, color: p.color, userId: p.userId, placedAt: p.placedAt })),
  };
}

export function registerPixelHistory(app: TemplatedApp, ctx: Context): void {
  app.get('/api/pixel', (res, req) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    const q = parsePixelQuery(req.getQuery() ?? '', ctx.config.width, ctx.config.height);
    if (!q.ok) return sendError(a.reply, new ApiError('invalid_pixel', q.message));
    const history = ctx.history;
    if (!history) return sendError(a.reply, new ApiError('unavailable', 'pixel history is not enabled on this server (DYNAMODB_TABLE is unset)'));
    const { x, y, limit } = q.value;
    history.pixel(x, y, limit).then(
      (placements) => {
        if (placements.length === 0) sendError(a.reply, new ApiError('never_placed', `pixel ${x},${y} has never been placed`));
        else sendJson(a.reply, 200, pixelBody(x, y, placements));
      },
      (err) => fail(a.reply, err, (e) => ctx.log.warn({ err: (e as Error).message, x, y }, 'pixel history read failed')),
    );
  });
}
