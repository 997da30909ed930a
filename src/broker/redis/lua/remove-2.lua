--[[
  Removes tasks of one queue from their type's runnable set and the delayed set, and drops
  their leases (cancel). The type and priority are needed to name the runnable set and the
  delayed member "<priority>|<type>|<id>".

  Input:
    KEYS[1] delayed set of the queue
    KEYS[2] lease set of the queue

    ARGV[1] prefix of the queue's per-type runnable sets (the type is appended)
    ARGV[2], ARGV[3], ARGV[4], ... triples: task id, type, priority (integer)

  Output:
    number of members removed, over the sets
]]
--- @include "delayed-member"
--- @include "call-in-slices"

local prefix = ARGV[1]
local ids = {}
local members = {}
local removed = 0
for i = 2, #ARGV, 3 do
  local id, taskType, priority = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  ids[#ids + 1] = id
  members[#members + 1] = delayedMember(priority, taskType, id)
  removed = removed + redis.call("ZREM", prefix .. taskType, id)
end
if #ids == 0 then
  return 0
end
return removed + callInSlices("ZREM", KEYS[1], {}, members) + callInSlices("ZREM", KEYS[2], {}, ids)
