--[[
  Puts leased tasks of one queue back: drops each lease, then makes the task runnable at once
  when it has no run time or its run time is due, else delays it. A task ends up in exactly
  one of the pending and delayed sets.

  Input:
    KEYS[1] pending set of the queue
    KEYS[2] delayed set of the queue
    KEYS[3] lease set of the queue
    KEYS[4] arrival counter of the queue

    ARGV[1] now (epoch ms)
    ARGV[2] PRIORITY_MAX
    ARGV[3] wake channel
    ARGV[4] queue name (the wake message)
    ARGV[5], ARGV[6], ARGV[7], ... triples: task id, priority (integer), run time (epoch ms,
            or "" for at once)

  Output:
    number of ids that became runnable

  Events:
    PUBLISH wake channel, queue name: once, when at least one id became runnable
]]
--- @include "pending-score"
--- @include "delayed-member"
--- @include "call-in-slices"

local now = tonumber(ARGV[1])
local priorityMax = tonumber(ARGV[2])

local runnable = {}
for i = 5, #ARGV, 3 do
  local id, priority, runAt = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call("ZREM", KEYS[3], id)
  if runAt == "" or tonumber(runAt) <= now then
    redis.call("ZREM", KEYS[2], delayedMember(priority, id))
    runnable[#runnable + 1] = { id, tonumber(priority) }
  else
    redis.call("ZREM", KEYS[1], id)
    redis.call("ZADD", KEYS[2], runAt, delayedMember(priority, id))
  end
end

local added = 0
if #runnable > 0 then
  local firstArrival = reserveArrivals(KEYS[4], #runnable)
  local args = {}
  for i, task in ipairs(runnable) do
    args[#args + 1] = pendingScore(priorityMax, task[2], firstArrival + i - 1)
    args[#args + 1] = task[1]
  end
  added = callInSlices("ZADD", KEYS[1], { "NX" }, args)
end
if added > 0 then
  redis.call("PUBLISH", ARGV[3], ARGV[4])
end
return added
