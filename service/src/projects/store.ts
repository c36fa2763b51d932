// Where projects and their watchers' push subscriptions live: Redis (shared by the fleet, under the canvas's
// hash tag) or files under DATA_DIR (embedded). Every container keeps its own copy in memory (service.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { writeFileAtomicSync } from '../store/atomic-file.js';
import type { AlertSubscription, Project, ProjectMeta } from './model.js';

export interface ProjectStore {
  /** Goes up with every change (create, hide, subscribe, unsubscribe): containers reload when it moves. */
  version(): Promise<number>;
  /** Every project's metadata, hidden ones too. */
  metas(): Promise<ProjectMeta[]>;
  /** The templates of these projects (missing ids are left out). */
  pixels(ids: string[]): Promise<Map<string, Uint8Array>>;
  create(p: Project): Promise<void>;
  /** The metadata after the change, or null for an unknown id. */
  setHidden(id: string, hidden: boolean): Promise<ProjectMeta | null>;
  /** Every project's alert subscriptions. */
  subscriptions(): Promise<Map<string, AlertSubscription[]>>;
  subscribe(projectId: string, sub: AlertSubscription): Promise<void>;
  unsubscribe(projectId: string, subId: string): Promise<void>;
  /** True for exactly one caller, fleet-wide, per watcher and `intervalMs`: only that container sends the alert. */
  claimAlert(projectId: string, subId: string, intervalMs: number): Promise<boolean>;
}

export class RedisProjectStore implements ProjectStore {
  private readonly k: { meta: string; pixels: string; subs: string; ver: string; alert: string };

  constructor(
    private readonly redis: Redis,
    canvasId: string,
  ) {
    const tag = `{tessera:${canvasId}}`;
    this.k = { meta: `${tag}:projects`, pixels: `${tag}:projpixels`, subs: `${tag}:projsubs`, ver: `${tag}:projver`, alert: `${tag}:projalert:` };
  }

  async version(): Promise<number> {
    return Number((await this.redis.get(this.k.ver)) ?? 0);
  }

  async metas(): Promise<ProjectMeta[]> {
    return Object.values(await this.redis.hgetall(this.k.meta)).map((j) => JSON.parse(j) as ProjectMeta);
  }

  async pixels(ids: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (ids.length === 0) return out;
    const rows = await this.redis.hmgetBuffer(this.k.pixels, ...ids);
    rows.forEach((b, i) => b && out.set(ids[i], new Uint8Array(b)));
    return out;
  }

  async create(p: Project): Promise<void> {
    const { pixels, ...meta } = p;
    // One MULTI: a container polling the version never sees the metadata without its template.
    await this.redis.multi().hset(this.k.pixels, p.id, Buffer.from(pixels)).hset(this.k.meta, p.id, JSON.stringify(meta)).incr(this.k.ver).exec();
  }

  async setHidden(id: string, hidden: boolean): Promise<ProjectMeta | null> {
    const raw = await this.redis.hget(this.k.meta, id);
    if (!raw) return null;
    const meta = { ...(JSON.parse(raw) as ProjectMeta), hidden };
    await this.redis.multi().hset(this.k.meta, id, JSON.stringify(meta)).incr(this.k.ver).exec();
    return meta;
  }

  async subscriptions(): Promise<Map<string, AlertSubscription[]>> {
    const out = new Map<string, AlertSubscription[]>();
    for (const [field, json] of Object.entries(await this.redis.hgetall(this.k.subs))) {
      const pid = field.slice(0, field.indexOf(':'));
      out.set(pid, [...(out.get(pid) ?? []), JSON.parse(json) as AlertSubscription]);
    }
    return out;
  }

  async subscribe(projectId: string, sub: AlertSubscription): Promise<void> {
    await this.redis.multi().hset(this.k.subs, `${projectId}:${sub.id}`, JSON.stringify(sub)).incr(this.k.ver).exec();
  }

  async unsubscribe(projectId: string, subId: string): Promise<void> {
    await this.redis.multi().hdel(this.k.subs, `${projectId}:${subId}`).incr(this.k.ver).exec();
  }

  async claimAlert(projectId: string, subId: string, intervalMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.k.alert}${projectId}:${subId}`, '1', 'PX', intervalMs, 'NX')) === 'OK';
  }
}

/** DATA_DIR/projects/<id>.json (metadata) and <id>.bin (template); subscriptions.json; each replaced atomically. */
export class FileProjectStore implements ProjectStore {
  private readonly dir: string;
  private ver = 0;
  private readonly claimed = new Map<string, number>();

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'projects');
    mkdirSync(this.dir, { recursive: true });
  }

  async version(): Promise<number> {
    return this.ver;
  }

  async metas(): Promise<ProjectMeta[]> {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json') && f !== 'subscriptions.json')
      .map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as ProjectMeta);
  }

  async pixels(ids: string[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const id of ids) {
      const f = join(this.dir, `${id}.bin`);
      if (existsSync(f)) out.set(id, new Uint8Array(readFileSync(f)));
    }
    return out;
  }

  async create(p: Project): Promise<void> {
    const { pixels, ...meta } = p;
    // The template first: a metadata file always has its template beside it.
    writeFileAtomicSync(join(this.dir, `${p.id}.bin`), Buffer.from(pixels));
    writeFileAtomicSync(join(this.dir, `${p.id}.json`), Buffer.from(JSON.stringify(meta)));
    this.ver++;
  }

  async setHidden(id: string, hidden: boolean): Promise<ProjectMeta | null> {
    const f = join(this.dir, `${id}.json`);
    if (!existsSync(f)) return null;
    const meta = { ...(JSON.parse(readFileSync(f, 'utf8')) as ProjectMeta), hidden };
    writeFileAtomicSync(f, Buffer.from(JSON.stringify(meta)));
    this.ver++;
    return meta;
  }

  private readSubs(): Record<string, AlertSubscription[]> {
    const f = join(this.dir, 'subscriptions.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, AlertSubscription[]>) : {};
  }

  private writeSubs(all: Record<string, AlertSubscription[]>): void {
    writeFileAtomicSync(join(this.dir, 'subscriptions.json'), Buffer.from(JSON.stringify(all)));
    this.ver++;
  }

  async subscriptions(): Promise<Map<string, AlertSubscription[]>> {
    return new Map(Object.entries(this.readSubs()));
  }

  async subscribe(projectId: string, sub: AlertSubscription): Promise<void> {
    const all = this.readSubs();
    all[projectId] = [...(all[projectId] ?? []).filter((s) => s.id !== sub.id), sub];
    this.writeSubs(all);
  }

  async unsubscribe(projectId: string, subId: string): Promise<void> {
    const all = this.readSubs();
    all[projectId] = (all[projectId] ?? []).filter((s) => s.id !== subId);
    this.writeSubs(all);
  }

  async claimAlert(projectId: string, subId: string, intervalMs: number): Promise<boolean> {
    const key = `${projectId}:${subId}`;
    const now = Date.now();
    if ((this.claimed.get(key) ?? 0) > now) return false;
    this.claimed.set(key, now + intervalMs);
    return true;
  }
}
