-- Lifts the seq fence after a recovery, atomically: the restored board, a seq past every seq that may have been
-- acknowledged, a new epoch (containers adopt it and tell their listeners to reset), and the fence gone.
-- KEYS[1] board  KEYS[2] seq  KEYS[3] epoch  KEYS[4] fence  KEYS[5] stream  KEYS[6] recovery lock
-- ARGV[1] the epoch the caller read ('' = none)  ARGV[2] the seq it read  ARGV[3] the new seq  ARGV[4] the new epoch
-- ARGV[5] the caller's lock token  ARGV[6] the history consumer group ('' = no history)
-- ARGV[7] 'board': ARGV[8] is the whole board string; 'pixels': ARGV[8] is packed little-endian u32
--         pixelIndex*16+colour, in seq order, written on top of the board Redis kept.
-- Returns 1 when done, 0 when the canvas changed since the caller read it (nothing written).
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[2]) then return 0 end
if redis.call('GET', KEYS[6]) ~= ARGV[5] then return 0 end

if ARGV[7] == 'board' then
  redis.call('SET', KEYS[1], ARGV[8])
else
  local ops = {}
  for i = 1, #ARGV[8], 4 do
    local v = struct.unpack('<I4', ARGV[8], i)
    ops[#ops + 1] = 'SET'
    ops[#ops + 1] = 'u4'
    ops[#ops + 1] = '#' .. math.floor(v / 16)
    ops[#ops + 1] = v % 16
    if #ops >= 4000 then
      redis.call('BITFIELD', KEYS[1], unpack(ops))
      ops = {}
    end
  end
  if #ops > 0 then redis.call('BITFIELD', KEYS[1], unpack(ops)) end
end
redis.call('SET', KEYS[2], ARGV[3])

-- The history group: once it has been handed everything the stream holds, it jumps to the new seq with it, so
-- "not yet written" (stream's last id minus the group's last delivered one) stays true. Entries not yet
-- handed out keep it where it is: they are written first.
if ARGV[6] ~= '' then
  if redis.call('EXISTS', KEYS[5]) == 0 then
    redis.call('XGROUP', 'CREATE', KEYS[5], ARGV[6], ARGV[3] .. '-0', 'MKSTREAM')
  else
    local info = redis.call('XINFO', 'STREAM', KEYS[5])
    local last
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
    end
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[5])) do
      local f = {}
      for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
      if f['name'] == ARGV[6] and f['last-delivered-id'] == last then
        redis.call('XGROUP', 'SETID', KEYS[5], ARGV[6], ARGV[3] .. '-0')
      end
    end
  end
end

redis.call('SET', KEYS[3], ARGV[4])
redis.call('DEL', KEYS[4], KEYS[6])
return 1
