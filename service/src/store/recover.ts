// The one way a recovery lifts the seq fence (store/fence.ts), shared by ops:rebuild and the automatic tail
// restore (history/tail-restore.ts): recover.lua writes the restored board, the new seq and a new epoch, and
// deletes the fence and the recovery lock, all at once and only if the canvas is still as the caller read it.
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { CanvasKeys } from './redis.js';

const RECOVER_LUA = readFileSync(new URL('./recover.lua', import.meta.url), 'utf8');

export interface Recovery {
  /** the epoch and seq the caller read (epoch '' = none) */
  epoch: string;
  seq: number;
  newSeq: number;
  newEpoch: string;
  /** the caller's value of keys.recovering */
  lockToken: string;
  /** the history consumer group ('' = no history) */
  group: string;
  /** the whole board, or pixels (pixelIndex*16+colour, u32 little-endian, in seq order) on top of the board Redis kept */
  board?: Buffer;
  pixels?: Buffer;
}

/** True when done; false when the canvas changed since the caller read it (nothing was written). */
export async function recoverCanvas(redis: Redis, keys: CanvasKeys, r: Recovery): Promise<boolean> {
  const [mode, data] = r.board ? ['board', r.board] : ['pixels', r.pixels ?? Buffer.alloc(0)];
  const out = await redis.eval(RECOVER_LUA, 6, keys.board, keys.seq, keys.epoch, keys.fence, keys.stream, keys.recovering, r.epoch, r.seq, r.newSeq, r.newEpoch, r.lockToken, r.group, mode, data);
  return Number(out) === 1;
}

/** Releases the recovery lock if the caller still holds it. */
export async function releaseLock(redis: Redis, keys: CanvasKeys, token: string): Promise<void> {
  await redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, keys.recovering, token);
}
