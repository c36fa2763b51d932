// POST /api/session: a signed, stateless session in a cookie and in the body (for Bearer use).
import type { TemplatedApp } from 'uWebSockets.js';
import { SESSION_COOKIE, tokenFrom } from '../auth/token.js';
import type { Context } from '../context.js';
import { retryAfterHeader } from '../limits/network-limits.js';
import { admit } from './admit.js';
import { fail, sendError, sendJson } from './respond.js';
import { SessionGate } from './session-gate.js';

export function registerSession(app: TemplatedApp, ctx: Context): void {
  const gate = new SessionGate(ctx);
  gate.registerChallenge(app);
  app.post('/api/session', (res, req) => {
    const a = admit(ctx, res, req);
    if (!a) return;
    const secure = req.getHeader('x-forwarded-proto') === 'https';
    // A visitor who already has a valid session keeps it: reloading must not mint a new identity.
    const existingToken = tokenFrom(req.getHeader('authorization'), req.getHeader('cookie'));
    const existing = ctx.tokens.verify(existingToken);
    const answer = (token: string, userId: string, expiresAt: number) => {
      const maxAge = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
      sendJson(a.reply, 200, { userId, token }, {
        'Set-Cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAge}${secure ? '; Secure' : ''}`,
      });
    };
    if (existing && existingToken) return answer(existingToken, existing.userId, existing.expiresAt);
    // A new identity spends the network's fleet-wide session budget (limits/).
    // It pays first (proof-of-work, captcha: session-gate.ts), so forged attempts do not spend the network's budget.
    gate
      .pass(a.reply, req, a.address)
      .then(() => ctx.limits.spend('sessions', a.address))
      .then(
        (refused) => {
          if (refused) return sendError(a.reply, refused, retryAfterHeader(refused));
          const minted = ctx.tokens.mint();
          answer(minted.token, minted.session.userId, minted.session.expiresAt);
        },
        (err) => fail(a.reply, err, (e) => ctx.log.error({ err: e }, 'session failed unexpectedly')),
      );
  });
}
