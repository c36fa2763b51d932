// The service's placement script (service/src/store/place.lua), called directly with the same keys and
// arguments RedisStore.placeBatch builds, for the ceilings that bypass the service.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { canvasKeys } from '../../service/src/store/redis.js';

export const PLACE_LUA = readFileSync(new URL('../../service/src/store/place.lua', import.meta.url), 'utf8');
export const KEYS = canvasKeys('main');
export const WIDTH = 1000;
/** The service's default HISTORY_BACKLOG_MAX and COOLDOWN_MS. */
const MAX_STREAM = 5_400_000;
const COOLDOWN_MS = 300_000;

export interface Placement {
  x: number;
  y: number;
  color: number;
  userId: string;
}

export type ScriptRedis = Redis & { tesseraPlace(...args: (string | number)[]): Promise<number[]> };

/** A command connection like the service's (no offline queue); autoPipelining is the variable under test. */
export function scriptRedis(url: string, autoPipelining = false): ScriptRedis {
  const r = new Redis(url, { enableAutoPipelining: autoPipelining, maxRetriesPerRequest: 0, enableOfflineQueue: true }) as ScriptRedis;
  r.defineCommand('tesseraPlace', { lua: PLACE_LUA });
  return r;
}

/** One script call for a group of placements; resolves with each one's result (seq > 0, 0 banned, < 0 cooldown). */
export async function placeGroup(redis: ScriptRedis, group: Placement[], now = Date.now()): Promise<number[]> {
  const keys: string[] = [KEYS.board, KEYS.seq, KEYS.stream, KEYS.bans];
  const args: (string | number)[] = [now, WIDTH, MAX_STREAM, KEYS.channel, group.length];
  for (const p of group) {
    keys.push(KEYS.cooldownPrefix + p.userId);
    args.push(p.x, p.y, p.color, p.userId, COOLDOWN_MS);
  }
  const out = await redis.tesseraPlace(keys.length, ...keys, ...args);
  if (out[0] !== 1) throw new Error(`placement script refused the group (status ${out[0]})`);
  return out.slice(1);
}
