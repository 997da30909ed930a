--[[
  Compare-and-set of the index epoch marker (see keys.ts and src/server/index-guard.ts): the
  marker changes only while it still holds the value the caller expects, so a rebuilder whose
  claim expired (or whose index was lost again) cannot mark someone else's index ready.

  Input:
    KEYS[1] the epoch marker

    ARGV[1] expected value, e.g. "rebuilding:<token>"
    ARGV[2] new value, e.g. "ready:<token>"; "" deletes the marker
    ARGV[3] expiry of the new value in ms from now; 0 for none

  Output:
    1 when the marker changed; 0 when it held something else, or nothing
]]

if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == "" then
  redis.call("DEL", KEYS[1])
elseif tonumber(ARGV[3]) > 0 then
  redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
else
  redis.call("SET", KEYS[1], ARGV[2])
end
return 1
