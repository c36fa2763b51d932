// /api/projects: community projects — create (a session and one placement of the network's budget), list, read,
// subscribe to damage alerts; /api/push/key for the browser's PushManager. Live progress is on /ws (watch).
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { tokenFrom, type Session } from '../auth/token.js';
import type { Context } from '../context.js';
import { retryAfterHeader } from '../limits/network-limits.js';
import { checkBounds, parseCreate, parseJsonObject, parseSubscription } from '../projects/input.js';
import { PROJECT_ID, projectView } from '../projects/model.js';
import { decodeTemplate } from '../projects/png.js';
import type { Progress } from '../projects/tracker.js';
import { ApiError } from '../wire/errors.js';
import { admit, type Admitted } from './admit.js';
import { fail, readBody, sendError, sendJson } from './respond.js';

/** A base64 PNG of PROJECT_MAX_PIXELS at 4 bytes a pixel, uncompressed, fits (and then some headers). */
const bodyLimit = (maxPixels: number) => Math.ceil(((maxPixels * 4 + 64 * 1024) * 4) / 3);
const ALERT_BODY = 4096;

const progressView = (p: Progress) => ({ total: p.total, correct: p.correct, damaged: p.damaged, completionPercent: p.total ? Math.round((1000 * p.correct) / p.total) / 10 : 0 });

interface Call {
  a: Admitted;
  session: Session | null;
  id: string;
  body: Promise<Buffer> | undefined;
}

function handle(ctx: Context, limit: number | null, fn: (c: Call) => Promise<[number, unknown]>) {
  return (res: HttpResponse, req: HttpRequest) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    const session = ctx.tokens.verify(tokenFrom(req.getHeader('authorization'), req.getHeader('cookie')));
    const id = req.getParameter(0) ?? '';
    const body = limit === null ? undefined : readBody(a.reply, req, limit);
    void (async () => {
      try {
        const [status, out] = await fn({ a, session, id, body });
        sendJson(a.reply, status, out);
      } catch (err) {
        if (err instanceof ApiError && err.code !== 'payload_too_large') sendError(a.reply, err, retryAfterHeader(err));
        else fail(a.reply, err, (e) => ctx.log.error({ err: e }, 'projects request failed'));
      }
    })();
  };
}

function projectId(id: string): string {
  if (!PROJECT_ID.test(id)) throw new ApiError('not_found', `no project ${id.slice(0, 32)}`);
  return id;
}

export function registerProjects(app: TemplatedApp, ctx: Context): void {
  const cfg = ctx.config.projects;
  app.get('/api/projects', handle(ctx, null, async () => [200, { projects: ctx.projects.visible().map(({ project, progress }) => ({ ...projectView(project, false), ...progressView(progress) })) }]));

  app.post('/api/projects', handle(ctx, bodyLimit(cfg.maxPixels), async ({ a, session, body }) => {
    const raw = await body!;
    if (!session) throw new ApiError('no_session', 'create a session first: POST /api/session');
    const input = parseCreate(parseJsonObject(raw, 'invalid_project'));
    // A project costs what a placement costs from the network's budget (docs/api.md): before the decoding work.
    const refused = await ctx.limits.spend('placements', a.address);
    if (refused) throw refused;
    const template = decodeTemplate(input.png, cfg.maxPixels);
    checkBounds(input.x, input.y, template.width, template.height, ctx.config.width, ctx.config.height);
    const { project, progress } = await ctx.projects.create({ name: input.name, x: input.x, y: input.y, template }, session.userId);
    ctx.log.info({ project: project.id, by: session.userId, width: project.width, height: project.height }, 'project created');
    return [201, { ...projectView(project, true), ...progressView(progress) }];
  }));

  app.get('/api/projects/:id', handle(ctx, null, async ({ id }) => {
    const { project, progress } = ctx.projects.get(projectId(id));
    return [200, { ...projectView(project, true), ...progressView(progress) }];
  }));

  app.post('/api/projects/:id/alerts', handle(ctx, ALERT_BODY, async ({ session, id, body }) => {
    const raw = await body!;
    if (!ctx.projects.alertsEnabled) throw new ApiError('alerts_disabled', 'damage alerts are off on this server (no VAPID keys configured)');
    if (!session) throw new ApiError('no_session', 'create a session first: POST /api/session');
    const pid = projectId(id);
    ctx.projects.get(pid);
    const sub = parseSubscription(parseJsonObject(raw, 'invalid_subscription'), cfg.pushOrigins);
    await ctx.projects.subscribe(pid, sub);
    return [201, { project: pid, subscription: sub.id, thresholdPercent: sub.thresholdPercent }];
  }));

  app.get('/api/push/key', handle(ctx, null, async () => [200, { publicKey: cfg.vapid?.publicKey ?? null }]));
}
