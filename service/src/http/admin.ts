// /api/admin/*: moderation, only with the ADMIN_TOKEN (header X-Admin-Token).
import { timingSafeEqual, createHash } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { parseControlsPatch } from '../controls.js';
import { ModerationError, rollback, setBan, setControls, type Rect } from '../moderation.js';
import { ApiError } from '../wire/errors.js';
import { admit, type Admitted } from './admit.js';
import { fail, readBody, sendError, sendJson } from './respond.js';

const MAX_ADMIN_BODY = 4096;
const DAY = 86_400_000;
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

function sameSecret(a: string, b: string): boolean {
  // Hash first so the compare is constant-time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

type Handler = (ctx: Context, body: Record<string, unknown>) => Promise<unknown>;

function route(app: TemplatedApp, ctx: Context, path: string, handler: Handler, method: 'post' | 'get' = 'post'): void {
  app[method](path, (res: HttpResponse, req: HttpRequest) => {
    const a: Admitted | null = admit(ctx, res, req);
    if (!a) return;
    const given = req.getHeader('x-admin-token');
    // A GET has no body to wait for.
    const body = method === 'get' ? Promise.resolve(Buffer.alloc(0)) : readBody(a.reply, req, MAX_ADMIN_BODY);
    void (async () => {
      try {
        const raw = await body;
        if (!ctx.config.adminToken) throw new ApiError('forbidden', 'moderation is disabled: set ADMIN_TOKEN');
        if (!given || !sameSecret(given, ctx.config.adminToken)) throw new ApiError('forbidden', 'a valid X-Admin-Token is required');
        let parsed: unknown;
        try {
          parsed = raw.length ? JSON.parse(raw.toString('utf8')) : {};
        } catch {
          throw new ApiError('invalid_request', 'body is not valid JSON');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError('invalid_request', 'body must be a JSON object');
        sendJson(a.reply, 200, await handler(ctx, parsed as Record<string, unknown>));
      } catch (err) {
        if (err instanceof ModerationError) return sendError(a.reply, new ApiError('unavailable', err.message));
        fail(a.reply, err, (e) => ctx.log.error({ err: e, path }, 'admin action failed'));
      }
    })();
  });
}

function userId(v: unknown): string {
  if (typeof v !== 'string' || !USER_ID.test(v)) throw new ApiError('invalid_request', '"userId" must be a user id');
  return v;
}

function time(v: unknown, name: string, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ApiError('invalid_request', `"${name}" must be epoch ms`);
  return v;
}

function rect(v: unknown, ctx: Context): Rect | undefined {
  if (v === undefined) return undefined;
  const r = v as Record<string, unknown>;
  const ok = (k: string, max: number) => typeof r?.[k] === 'number' && Number.isInteger(r[k]) && (r[k] as number) >= 0 && (r[k] as number) < max;
  if (!ok('x0', ctx.config.width) || !ok('x1', ctx.config.width) || !ok('y0', ctx.config.height) || !ok('y1', ctx.config.height)) {
    throw new ApiError('invalid_request', '"rect" must be {x0,y0,x1,y1} inside the canvas');
  }
  return { x0: r.x0 as number, y0: r.y0 as number, x1: r.x1 as number, y1: r.y1 as number };
}

export function registerAdmin(app: TemplatedApp, ctx: Context): void {
  route(app, ctx, '/api/admin/ban', async (ctx, b) => {
    const banned = b.banned === undefined ? true : b.banned === true;
    const id = userId(b.userId);
    await setBan(ctx, id, banned, 'admin');
    return { userId: id, banned };
  });
  route(app, ctx, '/api/admin/rollback', async (ctx, b) => {
    const r = rect(b.rect, ctx);
    const id = b.userId === undefined ? undefined : userId(b.userId);
    if (!id && !r) throw new ApiError('invalid_request', 'give "userId", "rect", or both');
    const toMs = time(b.to, 'to', Date.now());
    const fromMs = time(b.from, 'from', toMs - DAY);
    // A rectangle is found through the time index, read minute by minute: keep that read bounded.
    if (!id && toMs - fromMs > 7 * DAY) throw new ApiError('invalid_request', 'a rectangle rollback covers at most 7 days');
    if (fromMs > toMs) throw new ApiError('invalid_request', '"from" must not be after "to"');
    return rollback(ctx, { userId: id, rect: r, fromMs, toMs }, 'admin');
  });
  // Live controls, fleet-wide: cooldown, freeze, one colour (controls.ts).
  route(app, ctx, '/api/admin/controls', async (ctx, b) => setControls(ctx, parseControlsPatch(b), 'admin'));
  route(app, ctx, '/api/admin/controls', async (ctx) => ctx.controls.view(), 'get');
  route(app, ctx, '/api/admin/log', async (ctx, b) => ({ actions: await ctx.store.moderationLog(Math.min(1000, time(b.limit, 'limit', 100) || 100)) }));
}
