--[[
  Moves delayed tasks of one queue whose run time has come into their type's runnable set,
  restoring their priority; they queue behind what is already runnable at the same priority.

  Input:
    KEYS[1] delayed set of the queue
    KEYS[2] type set of the queue
    KEYS[3] arrival counter of the queue

    ARGV[1] now (epoch ms); members with run time <= now are due
    ARGV[2] limit: most members moved by this call (0: none, only report the next run time)
    ARGV[3] prefix of the queue's per-type runnable sets (the type is appended)
    ARGV[4] PRIORITY_MAX
    ARGV[5] wake channel
    ARGV[6] queue name (the wake message)

  Output:
    { nextRunAt, id1, id2, ... }: nextRunAt is the run time (string, epoch ms) of the
    earliest task still delayed, or nil when none is; then the moved ids in run-time order

  Events:
    PUBLISH wake channel, queue name: once, when at least one id was moved
]]
--- @include "pending-score"
--- @include "delayed-member"
--- @include "call-in-slices"
--- @include "add-runnable"

local limit = tonumber(ARGV[2])
local moved = {}
if limit > 0 then
  local due = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, limit)
  if #due > 0 then
    local tasks = {}
    for _, member in ipairs(due) do
      local priority, taskType, id = parseDelayedMember(member)
      tasks[#tasks + 1] = { id, taskType, priority }
      moved[#moved + 1] = id
    end
    addRunnable(ARGV[3], KEYS[2], KEYS[3], tonumber(ARGV[4]), tasks)
    callInSlices("ZREM", KEYS[1], {}, due)
    redis.call("PUBLISH", ARGV[5], ARGV[6])
  end
end

local earliest = redis.call("ZRANGE", KEYS[1], 0, 0, "WITHSCORES")
local result = { earliest[2] or false }
for _, id in ipairs(moved) do
  result[#result + 1] = id
end
return result
