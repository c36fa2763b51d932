// Community projects in one container: the stored projects (store.ts) mirrored in memory, their completion
// (tracker.ts) fed by the fan-out, changes coalesced and published on a topic per project, damage alerts.
// With Redis, containers learn of new and hidden projects and subscriptions by polling one version counter.
import type { Config } from '../config.js';
import type { Publisher } from '../fanout.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BoardSnapshot } from '../store/store.js';
import { ApiError } from '../wire/errors.js';
import { DamageAlerts, WebPushSender, type PushSender } from './alerts.js';
import { newProjectId, projectLink, type AlertSubscription, type Project, type ProjectMeta } from './model.js';
import type { Template } from './png.js';
import type { ProjectStore } from './store.js';
import { CompletionTracker, type Progress, type Tracked } from './tracker.js';

/** Changes reach a project's watchers at most this often: one message per project per interval, whatever the placements. */
export const FLUSH_MS = 250;
const SYNC_MS = 1000;

export const projectTopic = (id: string) => `project/${id}`;

export interface ProjectsOptions {
  config: Config;
  store: ProjectStore;
  publisher: Publisher;
  loadBoard: () => Promise<BoardSnapshot>;
  /** Poll the store for other containers' changes (Redis); embedded, this container makes every change. */
  shared: boolean;
  log: Logger;
  metrics: Metrics;
  /** Tests and the benchmark may send elsewhere; default: Web Push when VAPID keys are configured. */
  sender?: PushSender;
}

export class Projects {
  readonly tracker: CompletionTracker;
  readonly alerts: DamageAlerts;
  /** Every project known, hidden ones too (a hidden one is not tracked). */
  private readonly known = new Map<string, Project>();
  private version = -1;
  private flushTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: ProjectsOptions) {
    this.tracker = new CompletionTracker({ width: o.config.width, height: o.config.height, loadBoard: o.loadBoard, log: o.log });
    const vapid = o.config.projects.vapid;
    this.alerts = new DamageAlerts({
      store: o.store,
      sender: o.sender ?? (vapid ? new WebPushSender(vapid) : undefined),
      intervalMs: o.config.projects.alertIntervalMs,
      log: o.log,
      metrics: o.metrics,
      link: projectLink,
    });
  }

  get alertsEnabled(): boolean {
    return this.o.config.projects.vapid !== undefined || this.o.sender !== undefined;
  }

  /** Loads every project and seeds it against the board; call after the fan-out started (its hook feeds the tracker). */
  async start(): Promise<void> {
    // Like the fan-out's start: a store that does not answer yet is waited for, not a failed start.
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.sync();
        await this.tracker.load();
        break;
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, attempt }, 'projects waiting for the store');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    if (this.stopped) return;
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS);
    if (this.o.shared) this.syncTimer = setInterval(() => void this.sync().catch((err) => this.o.log.warn({ err: (err as Error).message }, 'projects: sync failed')), SYNC_MS);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.flushTimer);
    clearInterval(this.syncTimer);
    this.flush();
  }

  /** The fan-out's hook (Fanout.onPublished). */
  onPublished = (first: number, entries: ArrayLike<number>): void => this.tracker.onPublished(first, entries);

  visible(): { project: Project; progress: Progress }[] {
    const out: { project: Project; progress: Progress }[] = [];
    for (const p of this.known.values()) {
      const t = this.tracker.get(p.id);
      if (!p.hidden && t) out.push({ project: p, progress: t });
    }
    return out;
  }

  /** A visible project, or not_found. */
  get(id: string): { project: Project; progress: Tracked } {
    const p = this.known.get(id);
    const t = p && !p.hidden ? this.tracker.get(id) : undefined;
    if (!p || !t) throw new ApiError('not_found', `no project ${id}${p?.hidden ? ' (hidden by the moderators)' : ''}`);
    return { project: p, progress: t };
  }

  async create(input: { name: string; x: number; y: number; template: Template }, userId: string): Promise<{ project: Project; progress: Tracked }> {
    const { maxCount } = this.o.config.projects;
    if (this.tracker.size >= maxCount) throw new ApiError('too_many_projects', `this canvas already has ${maxCount} projects (PROJECT_MAX_COUNT)`);
    const p: Project = { id: newProjectId(), name: input.name, x: input.x, y: input.y, ...input.template, createdBy: userId, createdAt: Date.now(), hidden: false };
    await this.o.store.create(p);
    this.track(p);
    return { project: p, progress: this.tracker.get(p.id)! };
  }

  /** A moderator's hide or unhide; null for an unknown id. */
  async setHidden(id: string, hidden: boolean): Promise<ProjectMeta | null> {
    const meta = await this.o.store.setHidden(id, hidden);
    if (!meta) return null;
    const p = this.known.get(id);
    if (p) this.apply({ ...p, hidden });
    return meta;
  }

  async subscribe(projectId: string, sub: AlertSubscription): Promise<void> {
    await this.o.store.subscribe(projectId, sub);
    await this.reloadSubscriptions();
  }

  /** What a socket gets when it starts watching: the counts and every pixel's state (base64, 255 = transparent). */
  snapshot(id: string): string {
    const { progress: t } = this.get(id);
    const state = Buffer.from(t.state.buffer, t.state.byteOffset, t.state.byteLength).toString('base64');
    return JSON.stringify({ t: 'project', id, seq: this.tracker.seq, total: t.total, correct: t.correct, damaged: t.damaged, state });
  }

  /** One message per changed project: the counts and [index, state, index, state, …] of the pixels that changed. */
  private flush(): void {
    const dirty = this.tracker.dirty;
    if (dirty.size === 0) return;
    for (const t of dirty) {
      const seen = new Set<number>();
      const changes: number[] = [];
      for (let i = t.changed.length - 1; i >= 0; i--) {
        const at = t.changed[i];
        if (seen.has(at)) continue;
        seen.add(at);
        changes.push(at, t.state[at]);
      }
      t.changed = [];
      const id = t.project.id;
      this.o.publisher.publish(projectTopic(id), JSON.stringify({ t: 'project', id, seq: this.tracker.seq, total: t.total, correct: t.correct, damaged: t.damaged, changes }), false);
      this.alerts.check(t);
    }
    dirty.clear();
  }

  private track(p: Project): void {
    this.known.set(p.id, p);
    if (!p.hidden) this.tracker.add(p);
    this.o.metrics.projects.set(this.tracker.size);
  }

  private apply(p: Project): void {
    const was = this.known.get(p.id);
    this.known.set(p.id, p);
    if (p.hidden && !was?.hidden) {
      this.tracker.remove(p.id);
      this.o.publisher.publish(projectTopic(p.id), JSON.stringify({ t: 'project', id: p.id, hidden: true }), false);
    } else if (!p.hidden) this.tracker.add(p);
    this.o.metrics.projects.set(this.tracker.size);
  }

  /** Reads what changed in the store since the last look (new projects, hide/unhide, subscriptions). */
  private sync(): Promise<void> {
    return (this.syncing ??= (async () => {
      try {
        const version = await this.o.store.version();
        if (version === this.version) return;
        const metas = await this.o.store.metas();
        const fresh = metas.filter((m) => !this.known.has(m.id)).map((m) => m.id);
        const pixels = await this.o.store.pixels(fresh);
        for (const m of metas) {
          const have = this.known.get(m.id);
          if (have) {
            if (have.hidden !== m.hidden) this.apply({ ...have, hidden: m.hidden });
          } else if (pixels.has(m.id)) this.track({ ...m, pixels: pixels.get(m.id)! });
        }
        await this.reloadSubscriptions();
        this.version = version;
      } finally {
        this.syncing = undefined;
      }
    })());
  }

  private async reloadSubscriptions(): Promise<void> {
    this.alerts.replace(await this.o.store.subscriptions(), (pid) => this.tracker.get(pid)?.damagePercent ?? 0);
  }
}
