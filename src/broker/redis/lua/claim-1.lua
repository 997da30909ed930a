--[[
  Takes up to `count` runnable tasks of one queue whose type is one of the given types,
  highest priority first and FIFO within a priority across those types, and leases each of
  them. Runnable sets of other types are not read: their tasks neither get taken nor block.

  Each type's set is ordered by the same score (priority, then the queue's arrival counter),
  so the best `count` tasks over the types are a prefix of each set, merged:
  1. the first member of each type's set is read; the type with the best one is read up to
     `count` members, and its last one bounds the answer (`count` tasks score at most that);
  2. the other types are read up to that bound only (at most `count` each); a type whose first
     member is beyond the bound is not read again;
  3. the prefixes are merged, and the number taken from each set is popped from its head.
  Cost: O(types * log n) for the heads, plus the members within the bound (at most
  `count` per type, fewer when one type leads), with types being those the worker serves.

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

-- The types that have runnable tasks, with the score of their first one.
local keys = {}
local heads = {}
local best = 0
for t = 4, #ARGV do
  local key = prefix .. ARGV[t]
  local head = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
  if #head > 0 then
    keys[#keys + 1] = key
    heads[#heads + 1] = tonumber(head[2])
    if best == 0 or heads[#heads] < heads[best] then
      best = #heads
    end
  end
end

if #keys == 1 then
  local popped = redis.call("ZPOPMIN", keys[1], count)
  for i = 1, #popped, 2 do
    ids[#ids + 1] = popped[i]
  end
elseif #keys > 1 then
  -- Candidates per type: flat { id, score, id, score, ... } prefixes of the sets.
  local lists = {}
  lists[best] = redis.call("ZRANGE", keys[best], 0, count - 1, "WITHSCORES")
  local bound, boundScore = "+inf", math.huge
  if #lists[best] == 2 * count then
    bound = lists[best][2 * count]
    boundScore = tonumber(bound)
  end
  for i = 1, #keys do
    if i ~= best then
      if heads[i] <= boundScore then
        lists[i] = redis.call("ZRANGEBYSCORE", keys[i], "-inf", bound, "WITHSCORES", "LIMIT", 0, count)
      else
        lists[i] = {}
      end
    end
  end

  -- Merge: the next position and its score in each list (nil once a list is used up).
  local positions = {}
  local scores = {}
  for i = 1, #keys do
    positions[i] = 1
    scores[i] = lists[i][2] and tonumber(lists[i][2])
  end
  local taken = {}
  while #ids < count do
    local pick = nil
    for i = 1, #keys do
      local score = scores[i]
      if score ~= nil then
        if pick == nil or score < scores[pick] or (score == scores[pick] and lists[i][positions[i]] < lists[pick][positions[pick]]) then
          pick = i
        end
      end
    end
    if pick == nil then
      break
    end
    local position = positions[pick]
    ids[#ids + 1] = lists[pick][position]
    taken[pick] = (taken[pick] or 0) + 1
    positions[pick] = position + 2
    local nextScore = lists[pick][position + 3]
    scores[pick] = nextScore and tonumber(nextScore)
  end
  for i, n in pairs(taken) do
    redis.call("ZPOPMIN", keys[i], n)
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
