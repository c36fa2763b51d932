// /api/admin/*: moderation, for named moderators (X-Moderator: name, optional; X-Admin-Token: their token).
// Every action and every refused attempt goes to the moderation log (moderation/modlog.ts).
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Context } from '../context.js';
import { parseControlsPatch } from '../controls.js';
import { ModerationError, setBan, setControls, setNetBan, type Rect } from '../moderation.js';
import type { RollbackJob } from '../moderation/job-store.js';
import { authenticate } from '../moderation/moderators.js';
import { hideProject } from '../projects/moderation.js';
import { ApiError } from '../wire/errors.js';
import { admit, type Admitted } from './admit.js';
import { fail, readBody, sendError, sendJson } from './respond.js';

const MAX_ADMIN_BODY = 4096;
const DAY = 86_400_000;
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NET = /^[A-Za-z0-9_-]{22}$/;
const JOB_ID = /^[0-9a-f-]{36}$/;
const LOG_ID = /^\d+(-\d+)?$/;

interface Call {
  /** The moderator's name. */
  by: string;
  body: Record<string, unknown>;
  params: string[];
  query: URLSearchParams;
}

type Handler = (ctx: Context, call: Call) => Promise<unknown>;

function route(app: TemplatedApp, ctx: Context, method: 'post' | 'get', path: string, handler: Handler, status = 200): void {
  app[method](path, (res: HttpResponse, req: HttpRequest) => {
    const a: Admitted | null = admit(ctx, res, req);
    if (!a) return;
    const token = req.getHeader('x-admin-token') || undefined;
    const claimed = req.getHeader('x-moderator') || undefined;
    const params = [0, 1].map((i) => req.getParameter(i) ?? '');
    const query = new URLSearchParams(req.getQuery() ?? '');
    // A GET has no body to wait for.
    const body = method === 'get' ? Promise.resolve(Buffer.alloc(0)) : readBody(a.reply, req, MAX_ADMIN_BODY);
    void (async () => {
      try {
        const raw = await body;
        const by = await authorize(ctx, a, claimed, token, `${method.toUpperCase()} ${path}`);
        let parsed: unknown;
        try {
          parsed = raw.length ? JSON.parse(raw.toString('utf8')) : {};
        } catch {
          throw new ApiError('invalid_request', 'body is not valid JSON');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ApiError('invalid_request', 'body must be a JSON object');
        sendJson(a.reply, status, await handler(ctx, { by, body: parsed as Record<string, unknown>, params, query }));
      } catch (err) {
        if (err instanceof ModerationError) return sendError(a.reply, new ApiError('unavailable', err.message));
        fail(a.reply, err, (e) => ctx.log.error({ err: e, path }, 'admin action failed'));
      }
    })();
  });
}

/** The moderator's name, or forbidden — and a refused attempt is logged with the name claimed and the network. */
async function authorize(ctx: Context, a: Admitted, claimed: string | undefined, token: string | undefined, path: string): Promise<string> {
  const m = ctx.moderation;
  if (m.moderators.length === 0) throw new ApiError('forbidden', 'moderation is disabled: set MODERATORS or ADMIN_TOKEN');
  const name = authenticate(m.moderators, claimed, token);
  if (name) return name;
  const reason = token ? 'wrong token' : 'no token';
  await m.log.append({ action: 'auth_failed', by: claimed?.slice(0, 64), reason, path, net: m.netHashes(a.address).fine });
  ctx.log.warn({ claimed: claimed?.slice(0, 64), reason, path }, 'moderation: refused attempt');
  throw new ApiError('forbidden', 'a valid X-Admin-Token (and its X-Moderator name, if given) is required');
}

function pattern(v: unknown, re: RegExp, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) throw new ApiError('invalid_request', what);
  return v;
}
const userId = (v: unknown) => pattern(v, USER_ID, '"userId" must be a user id');
const net = (v: unknown) => pattern(v, NET, '"net" must be a network prefix hash (22 characters, as the log and history show it)');

function time(v: unknown, name: string, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ApiError('invalid_request', `"${name}" must be epoch ms`);
  return v;
}

function rect(v: unknown, ctx: Context): Rect | undefined {
  if (v === undefined) return undefined;
  const r = v as Record<string, unknown>;
  const ok = (k: string, max: number) => typeof r?.[k] === 'number' && Number.isInteger(r[k]) && (r[k] as number) >= 0 && (r[k] as number) < max;
  if (!ok('x0', ctx.config.width) || !ok('x1', ctx.config.width) || !ok('y0', ctx.config.height) || !ok('y1', ctx.config.height) || (r.x0 as number) > (r.x1 as number) || (r.y0 as number) > (r.y1 as number)) {
    throw new ApiError('invalid_request', '"rect" must be {x0,y0,x1,y1} inside the canvas, x0 ≤ x1 and y0 ≤ y1');
  }
  return { x0: r.x0 as number, y0: r.y0 as number, x1: r.x1 as number, y1: r.y1 as number };
}

const jobView = (j: RollbackJob) => ({
  jobId: j.id, state: j.state, scanned: j.scanned, selected: j.selected, restored: j.restored, pages: j.pages,
  by: j.by, spec: j.spec, startedAt: j.startedAt, updatedAt: j.updatedAt, ...(j.error ? { error: j.error } : {}),
});

async function logPage(ctx: Context, before: unknown, limit: unknown) {
  const b = before === undefined || before === '' ? undefined : pattern(before, LOG_ID, '"before" must be a log entry id (the "next" of a previous page)');
  const n = limit === undefined || limit === '' ? 100 : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ApiError('invalid_request', '"limit" must be an integer from 1 to 1000');
  const page = await ctx.moderation.log.page(b, n);
  return { actions: page.entries, ...(page.next ? { next: page.next } : {}) };
}

export function registerAdmin(app: TemplatedApp, ctx: Context): void {
  route(app, ctx, 'post', '/api/admin/ban', async (ctx, { by, body: b }) => {
    const banned = b.banned === undefined ? true : b.banned === true;
    if ((b.userId === undefined) === (b.net === undefined)) throw new ApiError('invalid_request', 'give exactly one of "userId" or "net"');
    if (b.net !== undefined) {
      const n = net(b.net);
      await setNetBan(ctx, n, banned, by);
      return { net: n, banned };
    }
    const id = userId(b.userId);
    await setBan(ctx, id, banned, by);
    return { userId: id, banned };
  });
  route(app, ctx, 'post', '/api/admin/rollback', async (ctx, { by, body: b }) => {
    const r = rect(b.rect, ctx);
    const id = b.userId === undefined ? undefined : userId(b.userId);
    const n = b.net === undefined ? undefined : net(b.net);
    if (!id && !n && !r) throw new ApiError('invalid_request', 'give "userId", "net", "rect", or any combination');
    const toMs = time(b.to, 'to', Date.now());
    const fromMs = time(b.from, 'from', toMs - DAY);
    if (fromMs > toMs) throw new ApiError('invalid_request', '"from" must not be after "to"');
    // Without a user the time index is read minute by minute: keep that read bounded.
    if (!id && toMs - fromMs > 7 * DAY) throw new ApiError('invalid_request', 'a rollback without "userId" covers at most 7 days');
    const job = await ctx.moderation.rollbacks.start(ctx, { userId: id, net: n, rect: r, fromMs, toMs }, by);
    return jobView(job);
  }, 202);
  route(app, ctx, 'get', '/api/admin/rollback/:id', async (ctx, { params }) =>
    jobView(await ctx.moderation.rollbacks.get(pattern(params[0], JOB_ID, 'not a rollback job id'))));
  route(app, ctx, 'post', '/api/admin/rollback/:id/resume', async (ctx, { by, params }) =>
    jobView(await ctx.moderation.rollbacks.resume(ctx, pattern(params[0], JOB_ID, 'not a rollback job id'), by)), 202);
  // Live controls, fleet-wide: cooldown, freeze, one colour (controls.ts).
  route(app, ctx, 'post', '/api/admin/controls', async (ctx, { by, body }) => setControls(ctx, parseControlsPatch(body), by));
  route(app, ctx, 'get', '/api/admin/controls', async (ctx) => ctx.controls.view());
  route(app, ctx, 'get', '/api/admin/log', async (ctx, { query }) => logPage(ctx, query.get('before') ?? undefined, query.get('limit') ?? undefined));
  route(app, ctx, 'post', '/api/admin/log', async (ctx, { body }) => logPage(ctx, body.before, body.limit));
  // Hide a community project (or show it again: {"hidden": false}); logged (projects/moderation.ts).
  route(app, ctx, 'post', '/api/admin/projects/:id', async (ctx, { by, body, params }) => hideProject(ctx, params[0], body, by));
}
