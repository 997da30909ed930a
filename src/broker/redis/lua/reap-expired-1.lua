--[[
  Takes up to `limit` leases of one queue whose deadline passed (deadline < now), and pushes
  their deadline to `reclaimUntil`, so that the reaper of another server does not take them
  too while this one requeues them.

  Input:
    KEYS[1] lease set of the queue

    ARGV[1] now (epoch ms)
    ARGV[2] limit (>= 1)
    ARGV[3] reclaim deadline (epoch ms)

  Output:
    the expired ids, earliest deadline first
]]
--- @include "call-in-slices"

local expired = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", "(" .. ARGV[1], "LIMIT", 0, ARGV[2])
local args = {}
for _, id in ipairs(expired) do
  args[#args + 1] = ARGV[3]
  args[#args + 1] = id
end
if #args > 0 then
  callInSlices("ZADD", KEYS[1], { "XX" }, args)
end
return expired
