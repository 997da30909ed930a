--[[
  Takes up to `count` runnable tasks of one queue, highest priority first and FIFO within a
  priority, and leases each of them.

  Input:
    KEYS[1] pending set of the queue
    KEYS[2] lease set of the queue

    ARGV[1] count (>= 1)
    ARGV[2] lease deadline (epoch ms)

  Output:
    the claimed ids, in dispatch order (empty when the queue is empty)
]]
--- @include "call-in-slices"

local popped = redis.call("ZPOPMIN", KEYS[1], ARGV[1])
local ids = {}
local args = {}
for i = 1, #popped, 2 do
  ids[#ids + 1] = popped[i]
  args[#args + 1] = ARGV[2]
  args[#args + 1] = popped[i]
end
if #ids > 0 then
  callInSlices("ZADD", KEYS[2], {}, args)
end
return ids
