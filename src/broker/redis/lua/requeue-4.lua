--[[
  Puts leased tasks of one queue back: drops each lease, then makes the task runnable at once
  (in its type's set) when it has no run time or its run time is due, else delays it. A task
  ends up in exactly one of its runnable set and the delayed set.

  Input:
    KEYS[1] delayed set of the queue
    KEYS[2] lease set of the queue
    KEYS[3] type set of the queue
    KEYS[4] arrival counter of the queue

    ARGV[1] now (epoch ms)
    ARGV[2] prefix of the queue's per-type runnable sets (the type is appended)
    ARGV[3] PRIORITY_MAX
    ARGV[4] wake channel
    ARGV[5] queue name (the wake message)
    ARGV[6], ARGV[7], ARGV[8], ARGV[9], ... quadruples: task id, type, priority (integer),
            run time (epoch ms, or "" for at once)

  Output:
    number of ids that became runnable

  Events:
    PUBLISH wake channel, queue name: once, when at least one id became runnable
]]
--- @include "pending-score"
--- @include "delayed-member"
--- @include "call-in-slices"
--- @include "add-runnable"

local now = tonumber(ARGV[1])
local prefix = ARGV[2]

local runnable = {}
for i = 6, #ARGV, 4 do
  local id, taskType, priority, runAt = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  redis.call("ZREM", KEYS[2], id)
  if runAt == "" or tonumber(runAt) <= now then
    redis.call("ZREM", KEYS[1], delayedMember(priority, taskType, id))
    runnable[#runnable + 1] = { id, taskType, tonumber(priority) }
  else
    redis.call("ZREM", prefix .. taskType, id)
    redis.call("ZADD", KEYS[1], runAt, delayedMember(priority, taskType, id))
  end
end

local added = addRunnable(prefix, KEYS[3], KEYS[4], tonumber(ARGV[3]), runnable)
if added > 0 then
  redis.call("PUBLISH", ARGV[4], ARGV[5])
end
return added
