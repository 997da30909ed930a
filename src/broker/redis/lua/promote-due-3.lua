--[[
  Moves delayed tasks of one queue whose run time has come into its pending set, restoring
  their priority; they queue behind what is already pending at the same priority.

  Input:
    KEYS[1] pending set of the queue
    KEYS[2] delayed set of the queue
    KEYS[3] arrival counter of the queue

    ARGV[1] now (epoch ms); members with run time <= now are due
    ARGV[2] limit: most members moved by this call (0: none, only report the next run time)
    ARGV[3] PRIORITY_MAX
    ARGV[4] wake channel
    ARGV[5] queue name (the wake message)

  Output:
    { nextRunAt, id1, id2, ... }: nextRunAt is the run time (string, epoch ms) of the
    earliest task still delayed, or nil when none is; then the moved ids in run-time order

  Events:
    PUBLISH wake channel, queue name: once, when at least one id was moved
]]
--- @include "pending-score"
--- @include "delayed-member"
--- @include "call-in-slices"

local limit = tonumber(ARGV[2])
local moved = {}
if limit > 0 then
  local due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", ARGV[1], "LIMIT", 0, limit)
  if #due > 0 then
    local priorityMax = tonumber(ARGV[3])
    local firstArrival = reserveArrivals(KEYS[3], #due)
    local args = {}
    for i, member in ipairs(due) do
      local priority, id = parseDelayedMember(member)
      args[#args + 1] = pendingScore(priorityMax, priority, firstArrival + i - 1)
      args[#args + 1] = id
      moved[#moved + 1] = id
    end
    callInSlices("ZADD", KEYS[1], { "NX" }, args)
    callInSlices("ZREM", KEYS[2], {}, due)
    redis.call("PUBLISH", ARGV[4], ARGV[5])
  end
end

local earliest = redis.call("ZRANGE", KEYS[2], 0, 0, "WITHSCORES")
local result = { earliest[2] or false }
for _, id in ipairs(moved) do
  result[#result + 1] = id
end
return result
