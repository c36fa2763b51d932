// Each challenge buys one session: its nonce is remembered until the challenge expires (after that the
// signature check refuses it anyway). Fleet-wide in Redis (SET NX PX), in this process when embedded.
import type { Redis } from 'ioredis';

export interface UsedChallenges {
  /** True the first time a nonce is used before its expiry, false for a replay. */
  claim(nonce: string, expiresAt: number, nowMs?: number): Promise<boolean>;
}

export class RedisUsedChallenges implements UsedChallenges {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(nonce: string, expiresAt: number, nowMs = Date.now()): Promise<boolean> {
    const ttlMs = Math.max(1, expiresAt - nowMs);
    return (await this.redis.set(this.prefix + nonce, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }
}

/** Sweeps expired nonces once this many are held (at most POW_TTL_S worth of new sessions). */
const SWEEP_AT = 10_000;

export class LocalUsedChallenges implements UsedChallenges {
  private readonly used = new Map<string, number>();
  private sweepAt = SWEEP_AT;

  async claim(nonce: string, expiresAt: number, nowMs = Date.now()): Promise<boolean> {
    const seen = this.used.get(nonce);
    if (seen !== undefined && seen > nowMs) return false;
    this.used.set(nonce, expiresAt);
    if (this.used.size >= this.sweepAt) {
      for (const [n, exp] of this.used) if (exp <= nowMs) this.used.delete(n);
      this.sweepAt = Math.max(SWEEP_AT, this.used.size * 2);
    }
    return true;
  }
}
