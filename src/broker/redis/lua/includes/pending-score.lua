--[[
  The pending score and the arrival counter behind it.

  score = (PRIORITY_MAX - priority) * 2^32 + (arrival mod 2^32)

  ZPOPMIN takes the smallest score first: the highest priority, then the earliest arrival.
  With priorities validated into [PRIORITY_MIN, PRIORITY_MAX] = [-1e6, 1e6] (src/core/limits.ts)
  the score stays below 2^53, so the double Redis stores is exact. Hand scores to redis.call
  as Lua numbers: redis.call converts them with full precision, while tostring() and `..`
  round to 14 significant digits.
]]
local TWO_POW_32 = 4294967296

local function pendingScore(priorityMax, priority, arrival)
  return (priorityMax - priority) * TWO_POW_32 + (arrival % TWO_POW_32)
end

-- Reserves `n` consecutive arrival numbers of a queue with one INCRBY; returns the first.
local function reserveArrivals(seqKey, n)
  return redis.call("INCRBY", seqKey, n) - n + 1
end
