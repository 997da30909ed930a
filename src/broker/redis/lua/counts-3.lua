--[[
  Sizes of one queue's sets, read at one instant: runnable (summed over the queue's types),
  delayed, leased.

  Input:
    KEYS[1] type set of the queue
    KEYS[2] delayed set of the queue
    KEYS[3] lease set of the queue

    ARGV[1] prefix of the queue's per-type runnable sets (the type is appended)

  Output:
    { pending, delayed, leased }
]]

local pending = 0
for _, taskType in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  pending = pending + redis.call("ZCARD", ARGV[1] .. taskType)
end
return { pending, redis.call("ZCARD", KEYS[2]), redis.call("ZCARD", KEYS[3]) }
