// Everything moderation keeps, in Redis (shared by the fleet) or under DATA_DIR (embedded), built once at start.
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { networkPrefixes, prefixHash, prefixHashKey } from '../network-prefix.js';
import { RedisStore } from '../store/redis.js';
import type { CanvasStore } from '../store/store.js';
import { LocalAreaLock, RedisAreaLock } from './area-lock.js';
import { FileJobStore, RedisJobStore } from './job-store.js';
import { FileModLog, RedisModLog, type ModLog } from './modlog.js';
import type { Moderator } from './moderators.js';
import { FileNetBans, RedisNetBans, type NetBans } from './net-bans.js';
import { RollbackJobs } from './rollback-job.js';

const LOCK_TTL_MS = 30_000;

export class Moderation {
  private readonly hashKey: Buffer;

  constructor(
    readonly moderators: readonly Moderator[],
    readonly log: ModLog,
    readonly netBans: NetBans,
    readonly rollbacks: RollbackJobs,
    sessionSecret: Buffer,
  ) {
    this.hashKey = prefixHashKey(sessionSecret);
  }

  /** The keyed hashes of an address's fine and coarse network prefix: what bans, logs and history carry. */
  netHashes(address: string): { fine: string; coarse: string } {
    const p = networkPrefixes(address);
    return { fine: prefixHash(p.fine, this.hashKey), coarse: prefixHash(p.coarse, this.hashKey) };
  }
}

export async function createModeration(config: Config, store: CanvasStore, log: Logger): Promise<Moderation> {
  const { width, height } = config;
  if (store instanceof RedisStore) {
    const tag = `{tessera:${config.canvasId}}`;
    const bans = new RedisNetBans(store.redis, `${tag}:netbans`, log.child({ component: 'net-bans' }));
    await bans.load();
    const modlog = new RedisModLog(store.redis, `${tag}:modlog`, config.modlogRetentionDays);
    const rollbacks = new RollbackJobs(
      { jobs: new RedisJobStore(store.redis, `${tag}:rbjob:`), locks: new RedisAreaLock(store.redis, `${tag}:rblock:`, width, height, LOCK_TTL_MS), modlog, pageSize: config.rollbackPageSize, lockTtlMs: LOCK_TTL_MS },
      width,
      height,
    );
    return new Moderation(config.moderators, modlog, bans, rollbacks, config.sessionSecret);
  }
  const modlog = new FileModLog(config.dataDir);
  const rollbacks = new RollbackJobs(
    { jobs: new FileJobStore(config.dataDir), locks: new LocalAreaLock(width, height), modlog, pageSize: config.rollbackPageSize, lockTtlMs: LOCK_TTL_MS },
    width,
    height,
  );
  return new Moderation(config.moderators, modlog, new FileNetBans(config.dataDir), rollbacks, config.sessionSecret);
}
