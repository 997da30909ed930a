--[[
  Publishes task events, many in one call: each message to its own channel, in order.

  Input:
    ARGV[1], ARGV[2] the first event's channel and message (bytes)
    ARGV[3], ARGV[4] the second's, ...

  Output:
    number of messages published
]]
for i = 1, #ARGV - 1, 2 do
  redis.call("PUBLISH", ARGV[i], ARGV[i + 1])
end
return math.floor(#ARGV / 2)
