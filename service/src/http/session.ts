// POST /api/session: a signed, stateless session in a cookie and in the body (for Bearer use).
import type { TemplatedApp } from 'uWebSockets.js';
import { SESSION_COOKIE, tokenFrom } from '../auth/token.js';
import type { Context } from '../context.js';
import { ApiError } from '../wire/errors.js';
import { admit } from './admit.js';
import { sendError, sendJson } from './respond.js';

export function registerSession(app: TemplatedApp, ctx: Context): void {
  app.post('/api/session', (res, req) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    const secure = req.getHeader('x-forwarded-proto') === 'https';
    // A visitor who already has a valid session keeps it: reloading must not mint a new identity.
    const existingToken = tokenFrom(req.getHeader('authorization'), req.getHeader('cookie'));
    const existing = ctx.tokens.verify(existingToken);
    let token: string;
    let userId: string;
    let expiresAt: number;
    if (existing && existingToken) {
      token = existingToken;
      ({ userId, expiresAt } = existing);
    } else {
      const waitMs = ctx.sessionLimit.take(a.address);
      if (waitMs > 0) {
        ctx.metrics.rejections.inc({ reason: 'session_rate_limited' });
        sendError(a.reply, new ApiError('rate_limited', 'too many new sessions from this address', { retryAfterMs: waitMs }), {
          'Retry-After': String(Math.ceil(waitMs / 1000)),
        });
        return;
      }
      const minted = ctx.tokens.mint();
      token = minted.token;
      ({ userId, expiresAt } = minted.session);
    }
    const maxAge = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
    sendJson(a.reply, 200, { userId, token }, {
      'Set-Cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAge}${secure ? '; Secure' : ''}`,
    });
  });
}
