// Where rollback jobs keep their progress, so a job survives its container: a Redis key per job (shared by
// the fleet, kept JOB_TTL after its last checkpoint) or a file per job under DATA_DIR/rollback-jobs.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Rect } from '../moderation.js';
import { writeFileAtomic } from '../store/atomic-file.js';

export interface RollbackSpec {
  userId?: string;
  /** A network prefix hash (network-prefix.ts): only placements recorded with it. */
  net?: string;
  rect?: Rect;
  fromMs: number;
  /** Inclusive; never after the job started, so the job's own restorations are never selected. */
  toMs: number;
}

export type JobState = 'running' | 'done' | 'failed' | 'interrupted';

export interface RollbackJob {
  id: string;
  spec: RollbackSpec;
  by: string;
  state: JobState;
  /** Placements read from the history. */
  scanned: number;
  /** Of those, the ones the spec selects. */
  selected: number;
  /** Pixels put back. */
  restored: number;
  /** History pages read. */
  pages: number;
  /** Where the history read resumes (history/pages.ts); absent before the first page. */
  cursor?: string;
  error?: string;
  startedAt: number;
  updatedAt: number;
}

export interface JobStore {
  get(id: string): Promise<RollbackJob | undefined>;
  save(job: RollbackJob): Promise<void>;
}

const JOB_TTL_S = 30 * 86_400;

export class RedisJobStore implements JobStore {
  constructor(
    private readonly redis: Redis,
    /** `{tessera:<canvas>}:rbjob:` */
    private readonly prefix: string,
  ) {}

  async get(id: string): Promise<RollbackJob | undefined> {
    const raw = await this.redis.get(this.prefix + id);
    return raw ? (JSON.parse(raw) as RollbackJob) : undefined;
  }

  async save(job: RollbackJob): Promise<void> {
    await this.redis.set(this.prefix + job.id, JSON.stringify(job), 'EX', JOB_TTL_S);
  }
}

export class FileJobStore implements JobStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'rollback-jobs');
    mkdirSync(this.dir, { recursive: true });
  }

  async get(id: string): Promise<RollbackJob | undefined> {
    const path = join(this.dir, `${id}.json`);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as RollbackJob) : undefined;
  }

  async save(job: RollbackJob): Promise<void> {
    await writeFileAtomic(join(this.dir, `${job.id}.json`), Buffer.from(JSON.stringify(job)));
  }
}
