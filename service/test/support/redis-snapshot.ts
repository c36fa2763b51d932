// Redis going back in time, on demand: a canvas's keys as DUMP has them now, and a roll-back to exactly that
// state (what a restart from an older AOF or RDB, or a failover to a replica that lagged, leaves behind).
import type { Redis } from 'ioredis';

export type Snapshot = { pattern: string; keys: Map<string, { dump: Buffer; ttlMs: number }> };

/** Every key matching `pattern` (e.g. "{tessera:main}:*"), with its TTL. */
export async function snapshot(redis: Redis, pattern: string): Promise<Snapshot> {
  const keys = new Map<string, { dump: Buffer; ttlMs: number }>();
  for (const key of await redis.keys(pattern)) {
    const [dump, ttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
    if (dump) keys.set(key, { dump, ttlMs: ttl > 0 ? ttl : 0 });
  }
  return { pattern, keys };
}

/** Deletes every key of the pattern and restores the snapshot's, in one MULTI. */
export async function rollBack(redis: Redis, snap: Snapshot): Promise<void> {
  const now = await redis.keys(snap.pattern);
  const tx = redis.multi();
  if (now.length) tx.del(...now);
  for (const [key, { dump, ttlMs }] of snap.keys) tx.restore(key, ttlMs, dump, 'REPLACE');
  const res = await tx.exec();
  const err = res?.find(([e]) => e);
  if (err) throw err[0];
}
