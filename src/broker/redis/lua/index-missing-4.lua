--[[
  Indexes the tasks of one queue that are in none of its sets: not runnable (in their type's
  set), not delayed, not leased. Those become runnable (no run time, or a due one) or delayed;
  the others are left exactly as they are, so no lease is disturbed and no place in line lost.
  Used by the reconciler, which finds tasks stored in PostgreSQL that the index lost.

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
    number of tasks added (runnable and delayed)

  Events:
    PUBLISH wake channel, queue name: once, when at least one task became runnable
]]
--- @include "pending-score"
--- @include "delayed-member"
--- @include "call-in-slices"
--- @include "add-runnable"

local now = tonumber(ARGV[1])
local prefix = ARGV[2]

local seen = {}
local runnable = {}
local delayed = 0
for i = 6, #ARGV, 4 do
  local id, taskType, priority, runAt = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local member = delayedMember(priority, taskType, id)
  if not seen[id]
    and redis.call("ZSCORE", prefix .. taskType, id) == false
    and redis.call("ZSCORE", KEYS[1], member) == false
    and redis.call("ZSCORE", KEYS[2], id) == false
  then
    seen[id] = true
    if runAt == "" or tonumber(runAt) <= now then
      runnable[#runnable + 1] = { id, taskType, tonumber(priority) }
    else
      redis.call("ZADD", KEYS[1], runAt, member)
      delayed = delayed + 1
    end
  end
end

local added = addRunnable(prefix, KEYS[3], KEYS[4], tonumber(ARGV[3]), runnable)
if added > 0 then
  redis.call("PUBLISH", ARGV[4], ARGV[5])
end
return added + delayed
