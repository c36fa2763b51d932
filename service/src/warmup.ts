// SESSION_WARMUP_MS: a session waits this long after it was issued before its first placement, so sessions
// minted in bulk the moment they are needed (a raid) are useless for that long. The token carries no issue
// time, only its expiry: issued = expiresAt − SESSION_TTL_S (tokens minted before a TTL change are misjudged).
import type { Config } from './config.js';
import type { Session } from './auth/token.js';
import { ApiError } from './wire/errors.js';

/** Milliseconds until the session may place (0 = now). */
export function warmupLeftMs(config: Config, session: Session, nowMs = Date.now()): number {
  if (config.sessionWarmupMs <= 0) return 0;
  const issuedAt = (session.expiresAt - config.sessionTtlS) * 1000;
  return Math.max(0, issuedAt + config.sessionWarmupMs - nowMs);
}

export function warmingUp(leftMs: number): ApiError {
  return new ApiError('warming_up', `new sessions wait before their first pixel: try again in ${Math.ceil(leftMs / 1000)} s`, { retryAfterMs: leftMs });
}
