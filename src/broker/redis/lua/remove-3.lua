--[[
  Removes tasks of one queue from the pending and delayed sets and drops their leases
  (cancel). The priority is needed to name the delayed member "<priority>|<id>".

  Input:
    KEYS[1] pending set of the queue
    KEYS[2] delayed set of the queue
    KEYS[3] lease set of the queue

    ARGV[1], ARGV[2], ... pairs: task id, priority (integer)

  Output:
    number of members removed, over the three sets
]]
--- @include "delayed-member"
--- @include "call-in-slices"

local ids = {}
local members = {}
for i = 1, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  members[#members + 1] = delayedMember(ARGV[i + 1], ARGV[i])
end
if #ids == 0 then
  return 0
end
return callInSlices("ZREM", KEYS[1], {}, ids)
  + callInSlices("ZREM", KEYS[2], {}, members)
  + callInSlices("ZREM", KEYS[3], {}, ids)
