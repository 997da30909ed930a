--[[
  Adds runnable tasks to one queue, ordered by priority then arrival, and wakes dispatchers.

  Input:
    KEYS[1] pending set of the queue
    KEYS[2] arrival counter of the queue

    ARGV[1] PRIORITY_MAX
    ARGV[2] wake channel
    ARGV[3] queue name (the wake message)
    ARGV[4], ARGV[5], ... pairs: task id, priority (integer)

  Output:
    number of ids added; an id already pending keeps its place (ZADD NX)

  Events:
    PUBLISH wake channel, queue name: once, when at least one id was added
]]
--- @include "pending-score"
--- @include "call-in-slices"

local priorityMax = tonumber(ARGV[1])
local count = (#ARGV - 3) / 2
if count < 1 then
  return 0
end

local firstArrival = reserveArrivals(KEYS[2], count)
local args = {}
for i = 0, count - 1 do
  args[#args + 1] = pendingScore(priorityMax, tonumber(ARGV[5 + 2 * i]), firstArrival + i)
  args[#args + 1] = ARGV[4 + 2 * i]
end

local added = callInSlices("ZADD", KEYS[1], { "NX" }, args)
if added > 0 then
  redis.call("PUBLISH", ARGV[2], ARGV[3])
end
return added
