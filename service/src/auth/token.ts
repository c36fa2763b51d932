// Stateless session tokens: "<userId>.<expiresAtSeconds>.<base64url HMAC-SHA256(secret, userId.expiresAt)>".
// Any container with the secret verifies any container's tokens; k6 mints them the same way.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Session {
  userId: string;
  expiresAt: number;
}

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class Tokens {
  /** @param secrets the current secret first, then any previous one still accepted during rotation */
  constructor(
    private readonly secrets: Buffer[],
    private readonly ttlS: number,
  ) {
    if (secrets.length === 0) throw new Error('at least one session secret is required');
  }

  mint(userId = randomBytes(12).toString('base64url'), nowMs = Date.now()): { token: string; session: Session } {
    const expiresAt = Math.floor(nowMs / 1000) + this.ttlS;
    const payload = `${userId}.${expiresAt}`;
    return { token: `${payload}.${sign(this.secrets[0], payload)}`, session: { userId, expiresAt } };
  }

  /** Returns the session, or null for a missing, malformed, forged or expired token. */
  verify(token: string | undefined, nowMs = Date.now()): Session | null {
    if (!token || token.length > 200) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [userId, exp, sig] = parts;
    if (!USER_ID.test(userId) || !/^\d{1,12}$/.test(exp)) return null;
    const expiresAt = Number(exp);
    if (expiresAt * 1000 <= nowMs) return null;
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== 32 || given.toString('base64url') !== sig) return null;
    const payload = `${userId}.${exp}`;
    let ok = false;
    // Check every secret (no early exit) so timing does not tell which one matched.
    for (const secret of this.secrets) {
      ok = timingSafeEqual(given, createHmac('sha256', secret).update(payload).digest()) || ok;
    }
    return ok ? { userId, expiresAt } : null;
  }
}

function sign(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** Picks the token out of `Authorization: Bearer …` or the `tessera_session` cookie. */
export function tokenFrom(authorization: string, cookie: string): string | undefined {
  if (authorization) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (m) return m[1];
  }
  if (cookie) {
    for (const part of cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

export const SESSION_COOKIE = 'tessera_session';
