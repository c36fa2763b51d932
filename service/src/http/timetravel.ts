// Time travel over HTTP (docs/api.md, "Time travel"): the keyframe list, immutable keyframe/range/users blobs
// (a CDN may keep them forever: a listed keyframe never changes), and the short-lived live tail.
import type { HttpRequest, TemplatedApp } from 'uWebSockets.js';
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import type { Context } from '../context.js';
import { encodeRange, encodeUsers } from '../timetravel/codec.js';
import type { BlobKind } from '../timetravel/blob-store.js';
import type { Timetravel } from '../timetravel/service.js';
import { ApiError } from '../wire/errors.js';
import { admit } from './admit.js';
import { fail, send, sendError, sendJson, type Reply } from './respond.js';

const deflate = promisify(deflateRaw);
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** The list and the tail change with every keyframe and placement. */
const SHORT = 'public, max-age=1';
/** Placements one tail answer carries at most (the client asks again from the last one it got). */
export const TAIL_LIMIT = 200_000;
const MAX_SEQ = 0xffffffff;

/** A seq in a path or query: digits only, within u32 (the wire's seq width). */
export function parseSeq(raw: string | null | undefined, name: string): number {
  if (raw === null || raw === undefined || raw === '') throw new ApiError('invalid_request', `"${name}" is missing`);
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > MAX_SEQ) throw new ApiError('invalid_request', `"${name}" must be a whole number from 0 to ${MAX_SEQ}, got "${raw.slice(0, 20)}"`);
  return Number(raw);
}

const BINARY = { 'Content-Type': 'application/octet-stream' };

export function registerTimetravel(app: TemplatedApp, ctx: Context, tt: Timetravel): void {
  const handle = (res: Parameters<Parameters<TemplatedApp['get']>[1]>[0], req: HttpRequest, fn: (reply: Reply, req: HttpRequest) => Promise<void>) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    if (!tt.keyframes) return sendError(a.reply, new ApiError('unavailable', 'time travel is not enabled on this server (Redis mode needs DYNAMODB_TABLE or KEYFRAME_TABLE)'));
    let p: Promise<void>;
    try {
      p = fn(a.reply, req);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.catch((err) => fail(a.reply, err, (e) => ctx.log.warn({ err: (e as Error).message, url: req.getUrl() }, 'time travel read failed')));
  };

  app.get('/api/history', (res, req) =>
    handle(res, req, async (reply) => {
      const [keyframes, head] = await Promise.all([tt.keyframes!.list(), ctx.store.headSeq()]);
      sendJson(reply, 200, { width: ctx.config.width, height: ctx.config.height, head, keyframes }, { 'Cache-Control': SHORT });
    }),
  );

  // The board at a seq is the same whoever cuts it; a range is named by both ends, because ops:keyframes may
  // cut the history at other places, and a URL the CDN keeps for a year must never name other bytes.
  app.get('/api/history/keyframe/:seq', (res, req) => {
    const raw = req.getParameter(0);
    handle(res, req, async (reply) => sendBlob(reply, parseSeq(raw, 'seq'), undefined, 'k'));
  });
  const rangeRoute = (path: string, kind: BlobKind) =>
    app.get(`/api/history/${path}/:from/:seq`, (res, req) => {
      const [rawFrom, rawSeq] = [req.getParameter(0), req.getParameter(1)];
      handle(res, req, async (reply) => sendBlob(reply, parseSeq(rawSeq, 'seq'), parseSeq(rawFrom, 'from'), kind));
    });
  rangeRoute('range', 'r');
  rangeRoute('users', 'u');
  const sendBlob = async (reply: Reply, seq: number, from: number | undefined, kind: BlobKind) => {
    const entry = (await tt.keyframes!.list()).find((e) => e.seq === seq);
    if (!entry || (from !== undefined && entry.from !== from)) {
      throw new ApiError('not_found', `no keyframe at seq ${seq}${from === undefined ? '' : ` after ${from}`} (GET /api/history lists them)`);
    }
    const blob = await tt.keyframes!.blob(seq, kind);
    if (!blob) throw new ApiError('not_found', `keyframe ${seq} is no longer stored`);
    send(reply, 200, blob, { ...BINARY, 'Cache-Control': IMMUTABLE });
  };

  app.get('/api/history/tail', (res, req) => {
    const query = new URLSearchParams(req.getQuery() ?? '');
    handle(res, req, async (reply) => {
      const after = parseSeq(query.get('after'), 'after');
      const part = query.get('part') ?? 'range';
      if (part !== 'range' && part !== 'users') throw new ApiError('invalid_request', `"part" must be range or users, got "${part.slice(0, 20)}"`);
      const list = await tt.keyframes!.list();
      const newest = list.length ? list[list.length - 1].seq : 0;
      // The tail starts at the newest keyframe at the earliest (before it, the keyframes' ranges hold the past):
      // an older `after` (a client whose list is stale) gets the tail from there, and X-Tail-From says so.
      const from = Math.max(after, newest);
      const placements = tt.tail ? await tt.tail.tail(from, TAIL_LIMIT) : [];
      const width = ctx.config.width;
      const body =
        part === 'range'
          ? encodeRange(from, placements.map((p) => ({ seq: p.seq, entry: (p.y * width + p.x) * 16 + p.color, placedAt: p.placedAt })))
          : encodeUsers(placements.map((p) => p.userId));
      send(reply, 200, await deflate(body), {
        ...BINARY,
        'Cache-Control': SHORT,
        'X-Tail-From': String(from),
        'X-Tail-Complete': String(placements.length < TAIL_LIMIT),
        'Access-Control-Expose-Headers': 'X-Tail-From, X-Tail-Complete',
      });
    });
  });
}
