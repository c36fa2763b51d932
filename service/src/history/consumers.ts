// Consumer-group housekeeping: creating the group, and forgetting consumers of containers long gone.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export const HISTORY_GROUP = 'history';

/** Unique per process: a restarted container must not inherit (and silently sit on) its predecessor's pending list. */
export function consumerName(): string {
  return `${hostname().slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Creates the group at the stream's very beginning ("0"), so entries added before any writer ran are written too.
 * MKSTREAM: the group may come before the first placement (or after Redis lost its data).
 */
export async function ensureGroup(redis: Redis, stream: string, group = HISTORY_GROUP): Promise<'created' | 'existed'> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    return 'created';
  } catch (err) {
    if (/BUSYGROUP/.test((err as Error).message)) return 'existed';
    throw err;
  }
}

// Atomic, so a consumer is deleted only while it holds nothing: DELCONSUMER drops its pending entries,
// which would then never be delivered again.
const FORGET_LUA = `
local removed = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if tonumber(f['pending']) == 0 and (f['name'] == ARGV[3] or tonumber(f['idle']) > tonumber(ARGV[2])) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed`;

/** Deletes consumers with nothing pending that were idle longer than idleMs, and `self` if it holds nothing. */
export async function forgetIdleConsumers(redis: Redis, stream: string, group: string, idleMs: number, self = ''): Promise<number> {
  return Number(await redis.eval(FORGET_LUA, 1, stream, group, idleMs, self));
}
