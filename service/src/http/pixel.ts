// PUT /api/pixel: authenticate, validate, place.
import type { TemplatedApp } from 'uWebSockets.js';
import { tokenFrom } from '../auth/token.js';
import type { Context } from '../context.js';
import { COUNTED_BY_PLACE, placePixel } from '../place.js';
import { ApiError } from '../wire/errors.js';
import { parsePixelBody } from '../wire/messages.js';
import { warmingUp, warmupLeftMs } from '../warmup.js';
import { admit } from './admit.js';
import { fail, readBody, sendError, sendJson } from './respond.js';

export const MAX_BODY_BYTES = 1024;

export function registerPixel(app: TemplatedApp, ctx: Context): void {
  app.put('/api/pixel', (res, req) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    // Headers live only until the handler returns: read them before any await.
    const session = ctx.tokens.verify(tokenFrom(req.getHeader('authorization'), req.getHeader('cookie')));
    const body = readBody(a.reply, req, MAX_BODY_BYTES);
    void (async () => {
      try {
        const raw = await body;
        if (!session) throw new ApiError('no_session', 'create a session first: POST /api/session');
        const pixel = parsePixelBody(raw, ctx.config.width, ctx.config.height);
        if (!pixel.ok) throw new ApiError('invalid_pixel', pixel.message);
        const warmup = warmupLeftMs(ctx.config, session);
        if (warmup > 0) throw warmingUp(warmup);
        const placed = await placePixel(ctx, session.userId, pixel.value, a.address);
        sendJson(a.reply, 200, placed);
      } catch (err) {
        if (err instanceof ApiError) {
          if (!COUNTED_BY_PLACE.has(err.code)) ctx.metrics.rejections.inc({ reason: err.code });
          const retry = err.extra.retryAfterMs;
          sendError(a.reply, err, typeof retry === 'number' ? { 'Retry-After': String(Math.ceil(retry / 1000)) } : err.code === 'payload_too_large' ? { Connection: 'close' } : {});
          return;
        }
        fail(a.reply, err, (e) => ctx.log.error({ err: e }, 'placement failed unexpectedly'));
      }
    })();
  });
}
