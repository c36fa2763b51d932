// The Redis store: the board is one string written with BITFIELD u4; one Lua script places a group of pixels.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { PlaceBatcher } from './batcher.js';
import { SeqFence, type FenceStatus } from './fence.js';
import type { BoardSnapshot, CanvasStore, ModerationRecord, Placement, PlaceRequest, PlaceResult, Run, SinceResult } from './store.js';
import { boardBytes } from './store.js';

const PLACE_LUA = readFileSync(new URL('./place.lua', import.meta.url), 'utf8');
const SINCE_LUA = readFileSync(new URL('./since.lua', import.meta.url), 'utf8');
const BOARD_LUA = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";

/** Every key of one canvas shares a hash tag, so the scripts also run on Redis Cluster. */
export function canvasKeys(canvasId: string) {
  const tag = `{tessera:${canvasId}}`;
  return {
    board: `${tag}:board`,
    seq: `${tag}:seq`,
    stream: `${tag}:placements`,
    bans: `${tag}:bans`,
    cooldownPrefix: `${tag}:cd:`,
    channel: `${tag}:updates`,
    moderation: `${tag}:moderation`,
    /** The operators' live controls (cooldown, freeze, one colour): store/controls-store.ts. */
    controls: `${tag}:controls`,
    /** Prefix of the per-minute HyperLogLogs of who placed (the automatic cooldown: auto-cooldown.ts). */
    active: `${tag}:active:`,
    /** A random id written when the canvas is created or restored (store/fence.ts). */
    epoch: `${tag}:epoch`,
    /** The seq fence: while this hash exists, place.lua refuses every placement. */
    fence: `${tag}:fence`,
    /** Held by whoever restores the canvas after a loss (ops:rebuild, history/tail-restore.ts). */
    recovering: `${tag}:recovering`,
  };
}
export type CanvasKeys = ReturnType<typeof canvasKeys>;

type Commands = {
  tesseraPlace(...args: (string | number)[]): Promise<number[]>;
  tesseraSince(stream: string, seq: string, after: number, limit: number): Promise<'too_old' | [string, string[]][]>;
  tesseraBoardBuffer(board: string, seq: string): Promise<[Buffer | null, Buffer | null]>;
};
type ScriptedRedis = Redis & Commands;

export interface RedisStoreOptions {
  url: string;
  canvasId: string;
  width: number;
  height: number;
  cooldownMs: number;
  commandTimeoutMs: number;
  /** Placements are refused (unavailable) while the stream holds this many entries: history is behind. */
  maxStreamLength: number;
  /** Names this container in the seq fence's hash and logs (default hostname-pid). */
  containerId?: string;
  log: Logger;
  metrics: Metrics;
}

export function redisOptions(commandTimeoutMs: number): RedisOptions {
  return {
    // Fail fast while disconnected: a placement answered 503 is better than one that hangs.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    lazyConnect: true,
  };
}

export class RedisStore implements CanvasStore {
  readonly keys: CanvasKeys;
  readonly redis: ScriptedRedis;
  readonly fence: SeqFence;
  private readonly sub: Redis;
  private readonly batcher: PlaceBatcher;
  private subscribed = false;
  private closed = false;

  constructor(private readonly opts: RedisStoreOptions) {
    this.keys = canvasKeys(opts.canvasId);
    this.redis = new Redis(opts.url, redisOptions(opts.commandTimeoutMs)) as ScriptedRedis;
    this.redis.defineCommand('tesseraPlace', { lua: PLACE_LUA });
    this.redis.defineCommand('tesseraSince', { lua: SINCE_LUA, numberOfKeys: 2 });
    this.redis.defineCommand('tesseraBoard', { lua: BOARD_LUA, numberOfKeys: 2 });
    // The subscriber has its own connection: a connection in subscribe mode can run nothing else.
    this.sub = new Redis(opts.url, { ...redisOptions(opts.commandTimeoutMs), autoResubscribe: false, commandTimeout: undefined });
    this.batcher = new PlaceBatcher((batch) => this.placeBatch(batch), 500);
    this.fence = new SeqFence({ redis: this.redis, keys: this.keys, id: opts.containerId ?? `${hostname()}-${process.pid}`, log: opts.log, metrics: opts.metrics });
    // Every reconnect is when a Redis that restarted or failed over shows what it kept.
    this.redis.on('ready', () => void this.fence.check());
    for (const [name, conn] of [['command', this.redis], ['subscriber', this.sub]] as const) {
      conn.on('error', (err) => opts.log.warn({ err: err.message, connection: name }, 'redis connection error'));
      conn.on('close', () => {
        if (!this.closed) opts.log.warn({ connection: name }, 'redis connection closed');
      });
    }
    this.sub.on('close', () => {
      this.subscribed = false;
    });
  }

  /** Connects both connections; resolves even when Redis is down (the store reconnects by itself). */
  async connect(): Promise<void> {
    await Promise.allSettled([this.redis.connect(), this.sub.connect()]);
    // No placement before the canvas epoch is known; if Redis is down now, the periodic check finds it later.
    await this.fence.check();
    this.fence.start();
  }

  place(req: PlaceRequest, cooldownMs = this.opts.cooldownMs): Promise<PlaceResult> {
    return this.batcher.add(req, cooldownMs);
  }

  private async placeBatch(batch: { req: PlaceRequest; cooldownMs: number }[]): Promise<PlaceResult[]> {
    const fence = this.fence.placing;
    if (!fence) return batch.map(() => ({ ok: false, error: 'unavailable', reason: this.fence.status ? 'fenced' : 'starting' }));
    const now = Date.now();
    const k = this.keys;
    const keys: string[] = [k.board, k.seq, k.stream, k.bans];
    const args: (string | number)[] = [now, this.opts.width, this.opts.maxStreamLength, k.channel, batch.length];
    for (const { req, cooldownMs } of batch) {
      keys.push(k.cooldownPrefix + req.userId);
      args.push(req.x, req.y, req.color, req.userId, cooldownMs);
    }
    keys.push(k.epoch, k.fence);
    args.push(fence.epoch, fence.minSeq);
    for (const { req } of batch) args.push(req.net ?? '');
    const started = process.hrtime.bigint();
    let out: number[];
    try {
      out = await this.redis.tesseraPlace(keys.length, ...keys, ...args);
    } catch (err) {
      const reason = (err as Error).message;
      this.opts.log.warn({ err: reason, batch: batch.length }, 'placement script failed');
      return batch.map(() => ({ ok: false, error: 'unavailable', reason }));
    } finally {
      this.opts.metrics.redisLatency.observe({ op: 'place' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    this.opts.metrics.placeBatch.observe(batch.length);
    if (out[0] === 2) return batch.map(() => ({ ok: false, error: 'unavailable', reason: 'history_backlog_full' }));
    if (out[0] === 3) {
      // Refused by the fence (epoch, fence hash or seq): the check decides whether to stop, or to adopt a restored canvas.
      await this.fence.check();
      return batch.map(() => ({ ok: false, error: 'unavailable', reason: 'fenced' }));
    }
    return batch.map(({ cooldownMs }, i): PlaceResult => {
      const r = out[i + 1];
      if (r > 0) {
        this.fence.observe(r);
        return { ok: true, seq: r, nextPlacementAt: now + cooldownMs };
      }
      if (r === 0) return { ok: false, error: 'banned' };
      return { ok: false, error: 'cooldown', retryAfterMs: -r };
    });
  }

  async board(): Promise<BoardSnapshot> {
    const started = process.hrtime.bigint();
    try {
      const [bytes, seq] = await this.redis.tesseraBoardBuffer(this.keys.board, this.keys.seq);
      const size = boardBytes(this.opts.width, this.opts.height);
      let board = bytes ?? Buffer.alloc(0);
      // BITFIELD grows the string only up to the highest pixel written; the rest is colour 0.
      if (board.length !== size) {
        const padded = Buffer.alloc(size);
        board.copy(padded, 0, 0, Math.min(size, board.length));
        board = padded;
      }
      return { bytes: board, seq: seq ? Number(seq.toString()) : 0 };
    } finally {
      this.opts.metrics.redisLatency.observe({ op: 'board' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  async headSeq(): Promise<number> {
    return Number((await this.redis.get(this.keys.seq)) ?? 0);
  }

  async since(after: number, limit: number): Promise<SinceResult> {
    const started = process.hrtime.bigint();
    try {
      const res = await this.redis.tesseraSince(this.keys.stream, this.keys.seq, after, limit);
      if (res === 'too_old') return { ok: false, reason: 'too_old' };
      return { ok: true, placements: res.map(([id, fields]) => parseEntry(id, fields)) };
    } finally {
      this.opts.metrics.redisLatency.observe({ op: 'since' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  subscribe(onRun: (run: Run) => void, onResubscribed: () => void): void {
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      const firstSeq = message.readUInt32LE(0);
      const entries = new Uint32Array((message.length - 4) / 4);
      for (let i = 0; i < entries.length; i++) entries[i] = message.readUInt32LE(4 + i * 4);
      this.fence.observe(firstSeq + entries.length - 1);
      onRun({ firstSeq, entries });
    });
    let first = true;
    const resubscribe = async () => {
      try {
        await this.sub.subscribe(this.keys.channel);
        this.subscribed = true;
        if (!first) this.opts.log.info('redis subscription restored');
        // Even the first subscription may start after placements the caller has not seen.
        first = false;
        onResubscribed();
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'subscribe failed; will retry on reconnect');
      }
    };
    this.sub.on('ready', () => void resubscribe());
    if (this.sub.status === 'ready') void resubscribe();
  }

  async setBanned(userId: string, banned: boolean): Promise<void> {
    if (banned) await this.redis.sadd(this.keys.bans, userId);
    else await this.redis.srem(this.keys.bans, userId);
  }

  async recordModeration(action: ModerationRecord): Promise<void> {
    await this.redis.lpush(this.keys.moderation, JSON.stringify(action));
  }

  async moderationLog(limit: number): Promise<ModerationRecord[]> {
    return (await this.redis.lrange(this.keys.moderation, 0, limit - 1)).map((s) => JSON.parse(s) as ModerationRecord);
  }

  ready(): boolean {
    return !this.closed && this.redis.status === 'ready' && this.subscribed && this.fence.ok;
  }

  fenced(): FenceStatus | undefined {
    return this.fence.status;
  }

  onRestored(fn: () => void): void {
    this.fence.onRestored(fn);
  }

  async close(): Promise<void> {
    await this.batcher.drain();
    this.fence.stop();
    this.closed = true;
    this.redis.disconnect();
    this.sub.disconnect();
  }
}

/** Parses a stream entry "<seq>-0" → {p: "x,y,color,user,time[,net]"}. */
export function parseEntry(id: string, fields: string[]): Placement {
  const seq = Number(id.slice(0, id.indexOf('-')));
  const p = fields[fields.indexOf('p') + 1] ?? '';
  const [x, y, color, userId, placedAt, net] = p.split(',');
  const out: Placement = { seq, x: Number(x), y: Number(y), color: Number(color), userId, placedAt: Number(placedAt) };
  if (net) out.net = net;
  return out;
}
