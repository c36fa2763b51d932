// A canvas's past for the time-travel tests (service/test, client/test) and this benchmark: synthetic placements spread over hours, written
// straight into the embedded store's placements.log or through Redis's own placement script (which takes the
// placement time as an argument), and the reference board at any moment, folded from the placements.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { encodeRecords } from '../../../service/src/store/placement-log.js';
import { canvasKeys } from '../../../service/src/store/redis.js';
import type { Placement } from '../../../service/src/store/store.js';

/** Placements sharing one placement time (a Redis script call takes one `now` for its whole group). */
export const GROUP = 100;

/**
 * n placements, seq 1…n, in groups of GROUP sharing a time, the groups `stepMs` apart, ending `endsAgoMs` ago.
 * A third of them land in a small hot area, so later placements often overwrite earlier ones.
 */
export function syntheticHistory(n: number, width: number, height: number, o: { seed?: number; stepMs?: number; endsAgoMs?: number; users?: number } = {}): Placement[] {
  let s = o.seed ?? 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const stepMs = o.stepMs ?? 250;
  const groups = Math.ceil(n / GROUP);
  const start = Date.now() - (o.endsAgoMs ?? 60_000) - groups * stepMs;
  const users = o.users ?? 5000;
  const out: Placement[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const hot = rnd() < 0.33;
    const x = hot ? (width >> 1) + Math.floor(rnd() * 8) : Math.floor(rnd() * width);
    const y = hot ? (height >> 1) + Math.floor(rnd() * 8) : Math.floor(rnd() * height);
    out[i] = { seq: i + 1, x: Math.min(x, width - 1), y: Math.min(y, height - 1), color: Math.floor(rnd() * 16), userId: `tt${Math.floor(rnd() * users)}`, placedAt: start + Math.floor(i / GROUP) * stepMs };
  }
  return out;
}

/** The embedded history: DATA_DIR/placements.log holding exactly these placements. */
export function writeLog(dataDir: string, placements: Placement[]): void {
  const parts: Buffer[] = [];
  for (let i = 0; i < placements.length; i += 10_000) parts.push(encodeRecords(placements.slice(i, i + 10_000)));
  writeFileSync(join(dataDir, 'placements.log'), Buffer.concat(parts));
}

const PLACE_LUA = readFileSync(new URL('../../../service/src/store/place.lua', import.meta.url), 'utf8');

/**
 * Places them through place.lua (the service's own script, without the fence keys, as tools may), one call per
 * group, each with its group's time: the board, the seq, the stream and the channel as the service would have them.
 */
export async function loadRedis(url: string, canvasId: string, width: number, placements: Placement[]): Promise<void> {
  const k = canvasKeys(canvasId);
  const redis = new Redis(url) as Redis & { tesseraPlace(...a: (string | number)[]): Promise<number[]> };
  redis.defineCommand('tesseraPlace', { lua: PLACE_LUA });
  try {
    const calls: Promise<number[]>[] = [];
    for (let i = 0; i < placements.length; i += GROUP) {
      const g = placements.slice(i, i + GROUP);
      const keys = [k.board, k.seq, k.stream, k.bans, ...g.map((p) => k.cooldownPrefix + p.userId)];
      const args: (string | number)[] = [g[0].placedAt, width, 0, k.channel, g.length];
      for (const p of g) args.push(p.x, p.y, p.color, p.userId, 0);
      calls.push(redis.tesseraPlace(keys.length, ...keys, ...args));
      if (calls.length >= 50) await Promise.all(calls.splice(0));
    }
    await Promise.all(calls);
    const seq = Number(await redis.get(k.seq));
    if (seq !== placements[placements.length - 1].seq) throw new Error(`Redis seq is ${seq} after loading ${placements.length} placements`);
  } finally {
    redis.disconnect();
  }
}

/** The board (u4-packed) after every placement with seq ≤ seq. */
export function boardAt(placements: Placement[], seq: number, width: number, height: number): Buffer {
  const b = Buffer.alloc(Math.ceil((width * height) / 2));
  for (const p of placements) {
    if (p.seq > seq) break;
    const i = p.y * width + p.x;
    b[i >> 1] = i % 2 === 0 ? (b[i >> 1] & 0x0f) | (p.color << 4) : (b[i >> 1] & 0xf0) | p.color;
  }
  return b;
}

/** The seq the board at `moment` shows: the last placement (in seq order) placed at or before it; 0 before all. */
export function seqAt(placements: Placement[], moment: number): number {
  let seq = 0;
  for (const p of placements) if (p.placedAt <= moment) seq = p.seq;
  return seq;
}
