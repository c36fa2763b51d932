// Redis mode: the budgets are shared by every container, counted by one Lua script in one round trip
// for all the keys of an action (fine and coarse prefix). Per key one hash
// {tessera:<canvas>}:lim:<budget>:<network> of bucket index → count, which expires a minute after its last use.
import type { Redis } from 'ioredis';
import { BUCKET_MS, BUCKETS, type Budget, type BudgetKey, type BudgetName, type Spent } from './budget.js';

// KEYS: one hash per budget key. ARGV: now (ms), bucket ms, buckets in the window, the limits.
// The same strict window as windowWait() in budget.ts; nothing is counted unless every key has room.
const SPEND_LUA = `
local now = tonumber(ARGV[1])
local B = tonumber(ARGV[2])
local N = tonumber(ARGV[3])
local current = math.floor(now / B)
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 + i])
  local flat = redis.call('HGETALL', KEYS[i])
  local live = {}
  local total = 0
  for j = 1, #flat, 2 do
    local b = tonumber(flat[j])
    if b > current - N then
      local n = tonumber(flat[j + 1])
      live[#live + 1] = {b, n}
      total = total + n
    else
      redis.call('HDEL', KEYS[i], flat[j])
    end
  end
  if total + 1 > limit then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    local wait = (current + N) * B - now
    for _, e in ipairs(live) do
      total = total - e[2]
      if total + 1 <= limit then
        wait = (e[1] + N) * B - now
        break
      end
    end
    return {i - 1, wait}
  end
end
for i = 1, #KEYS do
  redis.call('HINCRBY', KEYS[i], current, 1)
  redis.call('PEXPIRE', KEYS[i], N * B)
end
return {-1, 0}
`;

type BudgetRedis = Redis & { tesseraBudget(numKeys: number, ...args: (string | number)[]): Promise<[number, number]> };

export class RedisBudget implements Budget {
  private readonly redis: BudgetRedis;

  /** `tag` is the canvas's hash tag, {tessera:<canvas>}: the keys live in its slot on Redis Cluster too. */
  constructor(redis: Redis, private readonly tag: string) {
    this.redis = redis as BudgetRedis;
    this.redis.defineCommand('tesseraBudget', { lua: SPEND_LUA });
  }

  async spend(name: BudgetName, keys: BudgetKey[], now = Date.now()): Promise<Spent> {
    const redisKeys = keys.map((k) => `${this.tag}:lim:${name}:${k.key}`);
    const [index, wait] = await this.redis.tesseraBudget(redisKeys.length, ...redisKeys, now, BUCKET_MS, BUCKETS, ...keys.map((k) => k.limit));
    return index < 0 ? { ok: true } : { ok: false, index, retryAfterMs: wait };
  }
}
