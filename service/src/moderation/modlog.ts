// The append-only moderation log: every action and every refused attempt, with who (or who claimed to be) and
// from which network (the keyed prefix hash, never the address). Redis: one stream per canvas, trimmed only
// by age past MODLOG_RETENTION_DAYS; embedded: DATA_DIR/modlog.jsonl, never rewritten.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

export interface ModLogRecord {
  action: string;
  /** The moderator's name; for a refused attempt the name claimed, if any. */
  by?: string;
  [key: string]: unknown;
}

export interface ModLogEntry extends ModLogRecord {
  /** Position in the log: what `before` pages from. */
  id: string;
  at: number;
}

export interface ModLogPage {
  entries: ModLogEntry[];
  /** Give as `before` for the next (older) page; absent on the last page. */
  next?: string;
}

export interface ModLog {
  append(rec: ModLogRecord): Promise<void>;
  /** Newest first, strictly older than `before` when given. */
  page(before: string | undefined, limit: number): Promise<ModLogPage>;
}

const DAY = 86_400_000;

export class RedisModLog implements ModLog {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly retentionDays: number,
  ) {}

  async append(rec: ModLogRecord): Promise<void> {
    const at = Date.now();
    const json = JSON.stringify({ ...rec, at });
    // MINID drops only entries older than the retention (0 = keep forever); ~ lets Redis trim whole nodes.
    if (this.retentionDays > 0) await this.redis.xadd(this.key, 'MINID', '~', String(at - this.retentionDays * DAY), '*', 'r', json);
    else await this.redis.xadd(this.key, '*', 'r', json);
  }

  async page(before: string | undefined, limit: number): Promise<ModLogPage> {
    const rows = await this.redis.xrevrange(this.key, before ? `(${before}` : '+', '-', 'COUNT', limit + 1);
    const entries = rows.slice(0, limit).map(([id, fields]) => ({ ...(JSON.parse(fields[1]) as ModLogEntry), id }));
    return { entries, next: rows.length > limit ? entries[entries.length - 1].id : undefined };
  }
}

/** One JSON line per record; its id is its line number. Written synchronously: the record is in the file before the answer. */
export class FileModLog implements ModLog {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'modlog.jsonl');
  }

  async append(rec: ModLogRecord): Promise<void> {
    appendFileSync(this.path, JSON.stringify({ ...rec, at: Date.now() }) + '\n');
  }

  async page(before: string | undefined, limit: number): Promise<ModLogPage> {
    const lines = existsSync(this.path) ? readFileSync(this.path, 'utf8').split('\n') : [];
    // A torn last line (a crash mid-append) has no newline after it and is not a record yet.
    lines.pop();
    const end = Math.min(lines.length, before ? Number(before) - 1 : lines.length);
    const start = Math.max(0, end - limit);
    const entries: ModLogEntry[] = [];
    for (let i = end - 1; i >= start; i--) entries.push({ ...(JSON.parse(lines[i]) as ModLogEntry), id: String(i + 1) });
    return { entries, next: start > 0 ? String(start + 1) : undefined };
  }
}
