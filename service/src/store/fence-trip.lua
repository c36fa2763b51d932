-- Raises the seq fence for every container: place.lua refuses every placement while this hash exists.
-- The first trip's reason, time, container, epoch and Redis seq stay; the high-water mark is the highest seq
-- any container reports having seen, which is what a recovery must move the seq past.
-- KEYS[1] fence   ARGV: reason, highWater, by, at (epoch ms), epoch, redisSeq
-- Returns the fence's high-water mark.
redis.call('HSETNX', KEYS[1], 'reason', ARGV[1])
redis.call('HSETNX', KEYS[1], 'by', ARGV[3])
redis.call('HSETNX', KEYS[1], 'at', ARGV[4])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[5])
redis.call('HSETNX', KEYS[1], 'redisSeq', ARGV[6])
local hw = tonumber(redis.call('HGET', KEYS[1], 'highWater') or '0')
if tonumber(ARGV[2]) > hw then
  redis.call('HSET', KEYS[1], 'highWater', ARGV[2])
  hw = tonumber(ARGV[2])
end
return hw
