--[[
  Adds tasks of one queue that become runnable later. Scheduling an id again with the same
  type and priority moves its run time.

  Input:
    KEYS[1] delayed set of the queue

    ARGV[1], ARGV[2], ARGV[3], ARGV[4], ... quadruples: task id, type, priority (integer),
            run time (epoch ms)

  Output:
    number of members added (members whose run time moved are not counted)
]]
--- @include "delayed-member"
--- @include "call-in-slices"

local args = {}
for i = 1, #ARGV, 4 do
  args[#args + 1] = ARGV[i + 3]
  args[#args + 1] = delayedMember(ARGV[i + 2], ARGV[i + 1], ARGV[i])
end
if #args == 0 then
  return 0
end
return callInSlices("ZADD", KEYS[1], {}, args)
