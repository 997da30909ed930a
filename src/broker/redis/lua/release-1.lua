--[[
  Drops leases of one queue (their attempts finished).

  Input:
    KEYS[1] lease set of the queue

    ARGV[1], ARGV[2], ... task ids

  Output:
    number of leases dropped
]]
--- @include "call-in-slices"

if #ARGV == 0 then
  return 0
end
return callInSlices("ZREM", KEYS[1], {}, ARGV)
