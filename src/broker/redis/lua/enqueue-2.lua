--[[
  Adds runnable tasks to one queue, each to its type's set, ordered by priority then arrival,
  and wakes dispatchers.

  Input:
    KEYS[1] type set of the queue
    KEYS[2] arrival counter of the queue

    ARGV[1] prefix of the queue's per-type runnable sets (the type is appended)
    ARGV[2] PRIORITY_MAX
    ARGV[3] wake channel
    ARGV[4] queue name (the wake message)
    ARGV[5], ARGV[6], ARGV[7], ... triples: task id, type, priority (integer)

  Output:
    number of ids added; an id already runnable keeps its place (ZADD NX)

  Events:
    PUBLISH wake channel, queue name: once, when at least one id was added
]]
--- @include "pending-score"
--- @include "call-in-slices"
--- @include "add-runnable"

local tasks = {}
for i = 5, #ARGV, 3 do
  tasks[#tasks + 1] = { ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]) }
end

local added = addRunnable(ARGV[1], KEYS[1], KEYS[2], tonumber(ARGV[2]), tasks)
if added > 0 then
  redis.call("PUBLISH", ARGV[3], ARGV[4])
end
return added
