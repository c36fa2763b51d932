-- The seq fence's look at the canvas, in one atomic read (store/fence.ts decides what it means).
-- KEYS[1] epoch  KEYS[2] seq  KEYS[3] fence
-- ARGV[1] the caller's epoch ('' = it knows none yet), ARGV[2] a fresh epoch id
-- A canvas with no epoch and no fence gets ARGV[2], but only from a caller that knows no epoch: a new canvas
-- (or one from before epochs existed). A caller that knew one sees it missing: Redis lost its data.
-- Returns {epoch or '', seq, fence reason or '', fence high-water mark, 1 if the epoch was created here}.
local epoch = redis.call('GET', KEYS[1])
local fence = redis.call('HMGET', KEYS[3], 'reason', 'highWater')
local created = 0
if not epoch and ARGV[1] == '' and not fence[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  epoch = ARGV[2]
  created = 1
end
return {epoch or '', redis.call('GET', KEYS[2]) or '0', fence[1] or '', fence[2] or '0', created}
