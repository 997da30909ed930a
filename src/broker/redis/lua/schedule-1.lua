--[[
  Adds tasks of one queue that become runnable later. Scheduling an id again with the same
  priority moves its run time.

  Input:
    KEYS[1] delayed set of the queue

    ARGV[1], ARGV[2], ARGV[3], ... triples: task id, priority (integer), run time (epoch ms)

  Output:
    number of members added (members whose run time moved are not counted)
]]
--- @include "delayed-member"
--- @include "call-in-slices"

local args = {}
for i = 1, #ARGV, 3 do
  args[#args + 1] = ARGV[i + 2]
  args[#args + 1] = delayedMember(ARGV[i + 1], ARGV[i])
end
if #args == 0 then
  return 0
end
return callInSlices("ZADD", KEYS[1], {}, args)
