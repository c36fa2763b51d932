-- Places a group of pixels atomically, in order, as if one at a time.
-- KEYS[1] board  KEYS[2] seq  KEYS[3] stream  KEYS[4] bans  KEYS[4+i] cooldown key of placement i,
--   then KEYS[5+n] epoch  KEYS[6+n] fence
-- ARGV: now, width, maxStreamLen, channel, n, then per placement: x, y, color, userId, cooldownMs,
--   then the caller's epoch and minSeq, the highest seq it has seen,
--   then (optional) per placement the network prefix hash appended to its stream entry (moderation)
-- Returns {status, ...}; nothing is written unless status is 1:
--   {1, r1..rn}: ri > 0 is the seq given to placement i, 0 = banned, < 0 = -(ms until the user may place again);
--   {2}: the stream is full (the history is behind);
--   {3, why, seq}: the seq fence (store/fence.ts) refuses: why 1 = the canvas epoch is missing or not the caller's,
--   2 = the fence is up, 3 = the seq is below minSeq (Redis went back in time).
-- The service always passes the fence keys; tools that feed this script directly (benchmarks, test load) may
-- leave them out.
local now = tonumber(ARGV[1])
local width = tonumber(ARGV[2])
local maxLen = tonumber(ARGV[3])
local channel = ARGV[4]
local n = tonumber(ARGV[5])

local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
if #KEYS >= 6 + n then
  if redis.call('GET', KEYS[5 + n]) ~= ARGV[6 + 5 * n] then return {3, 1, seq} end
  if redis.call('EXISTS', KEYS[6 + n]) == 1 then return {3, 2, seq} end
  if seq < tonumber(ARGV[7 + 5 * n]) then return {3, 3, seq} end
end

if maxLen > 0 and redis.call('XLEN', KEYS[3]) >= maxLen then
  return {2}
end

local first = seq + 1
local out = {1}
local ops = {}
local packed = {}

for i = 1, n do
  local a = 5 + (i - 1) * 5
  local x, y, color, user, cooldown = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4], tonumber(ARGV[a + 5])
  local cdKey = KEYS[4 + i]
  if redis.call('SISMEMBER', KEYS[4], user) == 1 then
    out[i + 1] = 0
  else
    local untilMs = tonumber(redis.call('GET', cdKey) or '0')
    if cooldown > 0 and untilMs > now then
      out[i + 1] = -(untilMs - now)
    else
      if cooldown > 0 then
        redis.call('SET', cdKey, now + cooldown, 'PX', cooldown)
      end
      seq = seq + 1
      local idx = y * width + x
      ops[#ops + 1] = 'SET'
      ops[#ops + 1] = 'u4'
      ops[#ops + 1] = '#' .. idx
      ops[#ops + 1] = color
      local net = ARGV[7 + 5 * n + i]
      local entry = x .. ',' .. y .. ',' .. color .. ',' .. user .. ',' .. now
      if net and net ~= '' then entry = entry .. ',' .. net end
      redis.call('XADD', KEYS[3], seq .. '-0', 'p', entry)
      packed[#packed + 1] = struct.pack('<I4', idx * 16 + color)
      out[i + 1] = seq
    end
  end
end

if seq >= first then
  redis.call('SET', KEYS[2], seq)
  redis.call('BITFIELD', KEYS[1], unpack(ops))
  redis.call('PUBLISH', channel, struct.pack('<I4', first) .. table.concat(packed))
end
return out
