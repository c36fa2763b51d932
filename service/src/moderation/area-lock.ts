// One rollback at a time per area of the canvas. The canvas is cut into at most 16×16 tiles; a job holds
// every tile its rectangle touches. Redis: one key per tile, taken all-or-nothing by a script (SET NX PX),
// renewed while the job runs, so a dead container's lock lapses after the TTL. Embedded: in-process.
import type { Redis } from 'ioredis';
import type { Rect } from '../moderation.js';

export type LockResult = { ok: true } | { ok: false; holder: string };

export interface AreaLock {
  acquire(jobId: string, rect: Rect): Promise<LockResult>;
  /** Extends the hold; false when it was lost (expired and taken by another job). */
  renew(jobId: string, rect: Rect): Promise<boolean>;
  release(jobId: string, rect: Rect): Promise<void>;
}

const GRID = 16;

export function tilesOf(rect: Rect, width: number, height: number): number[] {
  const tw = Math.ceil(width / GRID);
  const th = Math.ceil(height / GRID);
  const out: number[] = [];
  for (let ty = Math.floor(rect.y0 / th); ty <= Math.floor(rect.y1 / th); ty++) {
    for (let tx = Math.floor(rect.x0 / tw); tx <= Math.floor(rect.x1 / tw); tx++) out.push(ty * GRID + tx);
  }
  return out;
}

const ACQUIRE = `
for i, k in ipairs(KEYS) do
  local h = redis.call('GET', k)
  if h and h ~= ARGV[1] then return h end
end
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return false`;
const RENEW = `
for i, k in ipairs(KEYS) do
  local h = redis.call('GET', k)
  if h and h ~= ARGV[1] then return 0 end
end
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return 1`;
const RELEASE = `
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 1`;

export class RedisAreaLock implements AreaLock {
  constructor(
    private readonly redis: Redis,
    /** `{tessera:<canvas>}:rblock:` — the canvas's hash tag keeps the script on one cluster slot. */
    private readonly prefix: string,
    private readonly width: number,
    private readonly height: number,
    private readonly ttlMs: number,
  ) {}

  private keys(rect: Rect): string[] {
    return tilesOf(rect, this.width, this.height).map((t) => this.prefix + t);
  }

  async acquire(jobId: string, rect: Rect): Promise<LockResult> {
    const keys = this.keys(rect);
    const holder = (await this.redis.eval(ACQUIRE, keys.length, ...keys, jobId, this.ttlMs)) as string | null;
    return holder ? { ok: false, holder } : { ok: true };
  }

  async renew(jobId: string, rect: Rect): Promise<boolean> {
    const keys = this.keys(rect);
    return (await this.redis.eval(RENEW, keys.length, ...keys, jobId, this.ttlMs)) === 1;
  }

  async release(jobId: string, rect: Rect): Promise<void> {
    const keys = this.keys(rect);
    await this.redis.eval(RELEASE, keys.length, ...keys, jobId);
  }
}

export class LocalAreaLock implements AreaLock {
  private readonly held = new Map<number, string>();

  constructor(
    private readonly width: number,
    private readonly height: number,
  ) {}

  async acquire(jobId: string, rect: Rect): Promise<LockResult> {
    const tiles = tilesOf(rect, this.width, this.height);
    for (const t of tiles) {
      const h = this.held.get(t);
      if (h && h !== jobId) return { ok: false, holder: h };
    }
    for (const t of tiles) this.held.set(t, jobId);
    return { ok: true };
  }

  async renew(jobId: string, rect: Rect): Promise<boolean> {
    return tilesOf(rect, this.width, this.height).every((t) => this.held.get(t) === jobId);
  }

  async release(jobId: string, rect: Rect): Promise<void> {
    for (const t of tilesOf(rect, this.width, this.height)) if (this.held.get(t) === jobId) this.held.delete(t);
  }
}
