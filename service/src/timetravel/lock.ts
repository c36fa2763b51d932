// One keyframe writer at a time across the fleet: a Redis lock (SET NX PX) holding this writer's id. It is
// renewed while a write runs and released (only if still ours) after; a container that dies holding it frees
// it after ttlMs. Writes are idempotent (same seq → same items), and the manifest entry is written only while
// the lock is still ours, so an expired lock costs at most a repeated write, never two chains.
import type { Redis } from 'ioredis';

const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

export class RedisLock {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly id: string,
    readonly ttlMs = 30_000,
  ) {}

  async acquire(): Promise<boolean> {
    return (await this.redis.set(this.key, this.id, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /** True while the lock is still ours (and extends it). */
  async renew(): Promise<boolean> {
    return Number(await this.redis.eval(RENEW, 1, this.key, this.id, this.ttlMs)) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.id);
  }

  /** Runs fn holding the lock (renewed every ttl/3); undefined when another holder has it. */
  async with<T>(fn: (stillOurs: () => Promise<boolean>) => Promise<T>): Promise<T | undefined> {
    if (!(await this.acquire())) return undefined;
    const timer = setInterval(() => void this.renew().catch(() => undefined), Math.max(100, this.ttlMs / 3));
    timer.unref();
    try {
      return await fn(() => this.renew());
    } finally {
      clearInterval(timer);
      await this.release().catch(() => undefined);
    }
  }
}
