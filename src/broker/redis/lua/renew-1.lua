--[[
  Extends existing leases of one queue. A lease already released (or requeued, removed)
  stays released: ZADD XX never creates a member.

  Input:
    KEYS[1] lease set of the queue

    ARGV[1] new lease deadline (epoch ms)
    ARGV[2], ARGV[3], ... task ids

  Output:
    number of leases renewed
]]
--- @include "call-in-slices"

local args = {}
for i = 2, #ARGV do
  args[#args + 1] = ARGV[1]
  args[#args + 1] = ARGV[i]
end
if #args == 0 then
  return 0
end
return callInSlices("ZADD", KEYS[1], { "XX", "CH" }, args)
