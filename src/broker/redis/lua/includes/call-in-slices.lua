--[[
  Lua's unpack() fails beyond a few thousand values ("too many results to unpack"), so long
  argument lists go to Redis in slices of 1,000 (even, so score/member pairs stay together).
  Returns the sum of the integer replies.
]]
local function callInSlices(command, key, options, args)
  local total = 0
  for first = 1, #args, 1000 do
    local callArgs = { key }
    for _, option in ipairs(options) do
      callArgs[#callArgs + 1] = option
    end
    for i = first, math.min(first + 999, #args) do
      callArgs[#callArgs + 1] = args[i]
    end
    total = total + redis.call(command, unpack(callArgs))
  end
  return total
end
