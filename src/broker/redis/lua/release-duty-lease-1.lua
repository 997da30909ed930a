--[[
  Gives up the lease of a periodic duty, only if the caller holds it (a lease that expired and
  was taken by another holder stays theirs).

  Input:
    KEYS[1] the duty's lease

    ARGV[1] holder

  Output:
    1 when the lease was the caller's and is gone; 0 otherwise
]]

if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("DEL", KEYS[1])
  return 1
end
return 0
