// Rollbacks as jobs: started by a moderator, run in the background a history page at a time, checkpointed
// after every page (job-store.ts), holding a lock on their area (area-lock.ts) so two jobs never restore the
// same pixels at once. Memory per job: one page, plus one bit per canvas pixel (pixels already dealt with).
import { randomUUID } from 'node:crypto';
import type { Context } from '../context.js';
import { MODERATOR_USER, ModerationError, type Rect } from '../moderation.js';
import type { Placement } from '../store/store.js';
import { ApiError } from '../wire/errors.js';
import type { AreaLock } from './area-lock.js';
import type { JobStore, RollbackJob, RollbackSpec } from './job-store.js';
import type { ModLog } from './modlog.js';

/** How far back a restored pixel's history is read for the colour to put back. */
const PIXEL_DEPTH = 50;

export interface RollbackJobsOptions {
  jobs: JobStore;
  locks: AreaLock;
  modlog: ModLog;
  /** ROLLBACK_PAGE_SIZE: placements per history page. */
  pageSize: number;
  /** How long a lock outlives its last renewal: a crashed job's area frees itself after this. */
  lockTtlMs: number;
}

/** True when the spec selects p. Restorations (by MODERATOR_USER) are never selected: a job never undoes a rollback. */
export function selects(spec: RollbackSpec, p: Placement): boolean {
  const r = spec.rect;
  return (
    p.userId !== MODERATOR_USER && p.placedAt >= spec.fromMs && p.placedAt <= spec.toMs &&
    (!spec.userId || p.userId === spec.userId) && (!spec.net || p.net === spec.net) &&
    (!r || (p.x >= r.x0 && p.x <= r.x1 && p.y >= r.y0 && p.y <= r.y1))
  );
}

export class RollbackJobs {
  /** Jobs this container runs now, by id. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly opts: RollbackJobsOptions,
    private readonly width: number,
    private readonly height: number,
  ) {}

  private area(spec: RollbackSpec): Rect {
    return spec.rect ?? { x0: 0, y0: 0, x1: this.width - 1, y1: this.height - 1 };
  }

  private async lock(job: RollbackJob): Promise<string> {
    // The lock's value names the job and this run: a second container cannot take over a job still running elsewhere.
    const owner = `${job.id}@${randomUUID().slice(0, 8)}`;
    const got = await this.opts.locks.acquire(owner, this.area(job.spec));
    if (!got.ok) {
      const holder = got.holder.split('@')[0];
      throw new ApiError('rollback_conflict', `rollback job ${holder} is running on an overlapping area; wait for it or watch GET /api/admin/rollback/${holder}`, { holder });
    }
    return owner;
  }

  async start(ctx: Context, spec: RollbackSpec, by: string): Promise<RollbackJob> {
    if (!ctx.history?.pages) throw new ModerationError('history_unavailable', 'rollback needs the history; configure DYNAMODB_TABLE or use the embedded store');
    const now = Date.now();
    const job: RollbackJob = { id: randomUUID(), spec: { ...spec, toMs: Math.min(spec.toMs, now) }, by, state: 'running', scanned: 0, selected: 0, restored: 0, pages: 0, startedAt: now, updatedAt: now };
    const owner = await this.lock(job);
    await this.opts.jobs.save(job);
    await this.opts.modlog.append({ action: 'rollback_start', by, jobId: job.id, ...job.spec });
    this.launch(ctx, job, owner);
    return job;
  }

  /** Picks up a job that stopped before it was done (its container drained or crashed), from its last checkpoint. */
  async resume(ctx: Context, id: string, by: string): Promise<RollbackJob> {
    const job = await this.get(id);
    if (job.state === 'done' || this.running.has(id)) return job;
    const owner = await this.lock(job);
    Object.assign(job, { state: 'running', error: undefined, updatedAt: Date.now() });
    await this.opts.jobs.save(job);
    await this.opts.modlog.append({ action: 'rollback_resume', by, jobId: id, cursor: job.cursor });
    this.launch(ctx, job, owner);
    return job;
  }

  /** A job as stored; "running" with no checkpoint for longer than the lock lives means its runner is gone. */
  async get(id: string): Promise<RollbackJob> {
    const job = await this.opts.jobs.get(id);
    if (!job) throw new ApiError('not_found', `no rollback job ${id}`);
    if (job.state === 'running' && !this.running.has(id) && Date.now() - job.updatedAt > this.opts.lockTtlMs) job.state = 'interrupted';
    return job;
  }

  /** Resolves when every job of this container has stopped (tests, drain). */
  async settled(): Promise<void> {
    await Promise.all(this.running.values());
  }

  private launch(ctx: Context, job: RollbackJob, owner: string): void {
    const area = this.area(job.spec);
    const renew = setInterval(() => void this.opts.locks.renew(owner, area).catch(() => undefined), Math.max(100, this.opts.lockTtlMs / 3));
    renew.unref();
    const run = this.run(ctx, job, owner, area)
      .catch(async (err: Error) => {
        ctx.log.error({ err, jobId: job.id }, 'rollback job failed');
        Object.assign(job, { state: 'failed', error: err.message, updatedAt: Date.now() });
        await this.opts.jobs.save(job).catch(() => undefined);
      })
      .finally(async () => {
        clearInterval(renew);
        this.running.delete(job.id);
        await this.opts.locks.release(owner, area).catch(() => undefined);
      });
    this.running.set(job.id, run);
  }

  private async run(ctx: Context, job: RollbackJob, owner: string, area: Rect): Promise<void> {
    const h = ctx.history!;
    const width = ctx.config.width;
    // Pixels already dealt with in this run; DynamoDB may not show a restoration yet when its pixel comes again.
    const seen = new Uint8Array(Math.ceil((width * ctx.config.height) / 8));
    const query = { userId: job.spec.userId, fromMs: job.spec.fromMs, toMs: job.spec.toMs };
    for await (const page of h.pages!(query, job.cursor, this.opts.pageSize)) {
      for (const p of page.items) {
        job.scanned++;
        if (!selects(job.spec, p)) continue;
        job.selected++;
        const i = p.y * width + p.x;
        if (seen[i >> 3] & (1 << (i & 7))) continue;
        seen[i >> 3] |= 1 << (i & 7);
        const past = await h.pixel(p.x, p.y, PIXEL_DEPTH);
        // Painted over since by someone the spec does not select: leave it.
        if (past.length === 0 || !selects(job.spec, past[0])) continue;
        const before = past.find((q) => !selects(job.spec, q));
        const r = await ctx.store.place({ x: p.x, y: p.y, color: before?.color ?? 0, userId: MODERATOR_USER }, 0);
        if (!r.ok) throw new Error(`rollback placement refused: ${r.error}`);
        job.restored++;
      }
      Object.assign(job, { cursor: page.cursor, pages: job.pages + 1, updatedAt: Date.now() });
      if (!(await this.opts.locks.renew(owner, area))) throw new Error('the area lock was lost (the job stalled past the lock TTL)');
      if (ctx.lifecycle.draining) job.state = 'interrupted';
      await this.opts.jobs.save(job);
      if (job.state === 'interrupted') {
        ctx.log.info({ jobId: job.id, cursor: job.cursor }, 'rollback job interrupted by the drain; resume it with POST /api/admin/rollback/<id>/resume');
        return;
      }
    }
    Object.assign(job, { state: 'done', updatedAt: Date.now() });
    await this.opts.jobs.save(job);
    await this.opts.modlog.append({ action: 'rollback_done', by: job.by, jobId: job.id, scanned: job.scanned, selected: job.selected, restored: job.restored, pages: job.pages });
    ctx.log.info({ jobId: job.id, selected: job.selected, restored: job.restored, pages: job.pages }, 'moderation: rollback done');
  }
}
