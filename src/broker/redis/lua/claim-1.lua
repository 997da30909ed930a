--[[
  Takes up to `count` runnable tasks of one queue whose type is one of the given types,
  highest priority first and FIFO within a priority across those types, and leases each of
  them. Runnable sets of other types are not read: their tasks neither get taken nor block.

  Each type's set is ordered by the same score (priority, then the queue's arrival counter),
  so the best `count` tasks over the types are the best of the merged heads: the first `count`
  of each set are read (ZRANGE), merged, and the number taken from each set is popped from its
  head. Cost: O(types * (log n + count)), with types being those the worker serves (tens).

  Input:
    KEYS[1] lease set of the queue

    ARGV[1] prefix of the queue's per-type runnable sets (the type is appended)
    ARGV[2] count (>= 1)
    ARGV[3] lease deadline (epoch ms)
    ARGV[4], ARGV[5], ... the types to take from (at least one, no duplicates)

  Output:
    the claimed ids, in dispatch order (empty when those types have nothing runnable)
]]
--- @include "call-in-slices"

local prefix = ARGV[1]
local count = tonumber(ARGV[2])
local ids = {}

if #ARGV == 4 then
  local popped = redis.call("ZPOPMIN", prefix .. ARGV[4], count)
  for i = 1, #popped, 2 do
    ids[#ids + 1] = popped[i]
  end
else
  local heads = {}
  for t = 4, #ARGV do
    local head = redis.call("ZRANGE", prefix .. ARGV[t], 0, count - 1, "WITHSCORES")
    for i = 1, #head, 2 do
      heads[#heads + 1] = { tonumber(head[i + 1]), head[i], t }
    end
  end
  -- Equal scores (only after the arrival counter wrapped) fall back to member order, as in a ZSET.
  table.sort(heads, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
  local taken = {}
  for i = 1, math.min(count, #heads) do
    local head = heads[i]
    ids[#ids + 1] = head[2]
    taken[head[3]] = (taken[head[3]] or 0) + 1
  end
  for t, n in pairs(taken) do
    redis.call("ZPOPMIN", prefix .. ARGV[t], n)
  end
end

if #ids > 0 then
  local args = {}
  for _, id in ipairs(ids) do
    args[#args + 1] = ARGV[3]
    args[#args + 1] = id
  end
  callInSlices("ZADD", KEYS[1], {}, args)
end
return ids
