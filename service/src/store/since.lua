-- Placements after a seq, from the stream, or 'too_old' when the stream no longer holds seq+1.
-- KEYS[1] stream  KEYS[2] seq   ARGV: after, limit
local after = tonumber(ARGV[1])
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
if after >= head then
  if after > head then return 'too_old' end
  return {}
end
local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #oldest == 0 then return 'too_old' end
local firstSeq = tonumber(string.match(oldest[1][1], '^(%d+)'))
if firstSeq > after + 1 then return 'too_old' end
return redis.call('XRANGE', KEYS[1], (after + 1) .. '-0', '+', 'COUNT', tonumber(ARGV[2]))
