--[[
  Creates or moves leases of one queue. Unlike renew-1.lua (ZADD XX), a missing lease is
  created: an index rebuild gives running attempts their lease back, so that their holders
  keep renewing it and the reaper resolves it if it expires.

  Input:
    KEYS[1] lease set of the queue

    ARGV[1] lease deadline (epoch ms)
    ARGV[2], ARGV[3], ... task ids

  Output:
    number of leases created (leases that existed and only moved are not counted)
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
return callInSlices("ZADD", KEYS[1], {}, args)
