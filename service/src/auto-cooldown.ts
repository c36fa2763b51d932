// The automatic cooldown (AUTO_COOLDOWN=1), pxls-style: the more people place, the longer each waits, so the
// canvas fills at a steadier pace. cooldown = clamp(COOLDOWN_MS × active / AUTO_COOLDOWN_REF_USERS, MIN, MAX),
// active = distinct users who placed in the last 5 minutes, fleet-wide. A moderator's cooldown wins over it.
import type { Redis } from 'ioredis';
import type { Logger } from './log.js';

export const ACTIVE_WINDOW_MS = 5 * 60_000;
const MINUTE = 60_000;
/** How often the cooldown is recomputed. */
const TICK_MS = 5000;
/** A recomputed cooldown within this fraction of the current one is not worth telling every screen about. */
const CHANGE_FRACTION = 0.1;

export interface AutoCooldownSettings {
  baseMs: number;
  refUsers: number;
  minMs: number;
  maxMs: number;
}

/** The formula, rounded so screens see "45 s" or "2 min 30 s" rather than "2 min 27.3 s". */
export function autoCooldownMs(active: number, s: AutoCooldownSettings): number {
  const raw = Math.min(s.maxMs, Math.max(s.minMs, (s.baseMs * active) / s.refUsers));
  const step = raw < MINUTE ? 5000 : 30_000;
  return Math.min(s.maxMs, Math.max(s.minMs, Math.round(raw / step) * step));
}

/** Who placed recently: counted here (embedded) or in Redis, one HyperLogLog per minute (every container adds to it). */
export interface ActiveUsers {
  note(userId: string): void;
  count(now: number): Promise<number>;
  flush?(now: number): Promise<void>;
}

export class LocalActiveUsers implements ActiveUsers {
  private readonly last = new Map<string, number>();

  note(userId: string): void {
    this.last.set(userId, Date.now());
  }

  async count(now: number): Promise<number> {
    for (const [u, at] of this.last) if (at <= now - ACTIVE_WINDOW_MS) this.last.delete(u);
    return this.last.size;
  }
}

export class RedisActiveUsers implements ActiveUsers {
  /** Users seen since the last flush; one PFADD per tick, not one per placement. */
  private pending = new Set<string>();

  constructor(
    private readonly redis: Redis,
    /** Key prefix under the canvas's hash tag; the minute number is appended. */
    private readonly prefix: string,
  ) {}

  note(userId: string): void {
    this.pending.add(userId);
  }

  async flush(now: number): Promise<void> {
    if (this.pending.size === 0) return;
    const users = [...this.pending];
    this.pending = new Set();
    const key = this.prefix + Math.floor(now / MINUTE);
    await this.redis.multi().pfadd(key, ...users).pexpire(key, ACTIVE_WINDOW_MS + 2 * MINUTE).exec();
  }

  async count(now: number): Promise<number> {
    const minute = Math.floor(now / MINUTE);
    // The current minute and the five before it: a window of 5 to 6 minutes.
    const keys = Array.from({ length: 6 }, (_, i) => this.prefix + (minute - i));
    return this.redis.pfcount(...keys);
  }
}

export class AutoCooldown {
  current: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly active: ActiveUsers,
    private readonly settings: AutoCooldownSettings,
    private readonly log: Logger,
  ) {}

  note(userId: string): void {
    this.active.note(userId);
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    let active: number;
    try {
      await this.active.flush?.(now);
      active = await this.active.count(now);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'automatic cooldown: cannot count active users; keeping the cooldown');
      return;
    }
    const next = autoCooldownMs(active, this.settings);
    const cur = this.current;
    if (cur !== null && (next === cur || Math.abs(next - cur) < cur * CHANGE_FRACTION)) return;
    this.current = next;
    this.log.info({ active, cooldownMs: next, before: cur }, 'automatic cooldown changed');
    for (const fn of this.listeners) fn();
  }
}
