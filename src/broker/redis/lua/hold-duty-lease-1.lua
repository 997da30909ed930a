--[[
  Takes or keeps the lease of a periodic duty that one server at a time runs: taken when
  free, extended when the caller holds it, refused when another holder does.

  Input:
    KEYS[1] the duty's lease

    ARGV[1] holder (e.g. a server id)
    ARGV[2] how long the lease lasts from now (ms, >= 1)

  Output:
    1 when the caller holds the lease for ARGV[2] ms from now; 0 when another holder does
]]

local holder = redis.call("GET", KEYS[1])
if holder == false then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0
