// Bans by network prefix hash (network-prefix.ts): a Redis set shared by the fleet, or DATA_DIR/net-bans.json.
// Placements check a copy in memory, refreshed from Redis at most once a second in the background, so a ban
// reaches every container within about a second and costs a placement no round trip.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../store/atomic-file.js';

const REFRESH_MS = 1000;

export interface NetBans {
  /** True when any of the hashes (fine and coarse prefix of one address) is banned. */
  banned(hashes: readonly string[]): boolean;
  set(hash: string, banned: boolean): Promise<void>;
}

export class RedisNetBans implements NetBans {
  private current = new Set<string>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    /** `{tessera:<canvas>}:netbans` */
    private readonly key: string,
    private readonly log: Logger,
  ) {}

  /** The first load, before the first placement. */
  async load(): Promise<void> {
    this.current = new Set(await this.redis.smembers(this.key));
    this.loadedAt = Date.now();
  }

  banned(hashes: readonly string[]): boolean {
    if (Date.now() - this.loadedAt > REFRESH_MS && !this.loading) {
      this.loading = this.load()
        .catch((err: Error) => this.log.warn({ err: err.message }, 'network bans not refreshed; the last copy stays in force'))
        .finally(() => (this.loading = undefined));
    }
    return hashes.some((h) => this.current.has(h));
  }

  async set(hash: string, banned: boolean): Promise<void> {
    if (banned) await this.redis.sadd(this.key, hash);
    else await this.redis.srem(this.key, hash);
    await this.load();
  }
}

export class FileNetBans implements NetBans {
  private readonly path: string;
  private readonly current: Set<string>;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'net-bans.json');
    this.current = new Set(existsSync(this.path) ? (JSON.parse(readFileSync(this.path, 'utf8')) as string[]) : []);
  }

  banned(hashes: readonly string[]): boolean {
    return hashes.some((h) => this.current.has(h));
  }

  async set(hash: string, banned: boolean): Promise<void> {
    if (banned) this.current.add(hash);
    else this.current.delete(hash);
    await writeFileAtomic(this.path, Buffer.from(JSON.stringify([...this.current])));
  }
}
