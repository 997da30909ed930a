--[[
  Members of the delayed set are "<priority>|<id>": the priority travels with the id, so a
  promotion restores it without a per-task hash, and Redis holds only ids and scores.
  The priority never contains "|", so the first "|" ends it; the id may contain anything.
]]
local function delayedMember(priority, id)
  return priority .. "|" .. id
end

-- Returns priority (number) and id of a delayed member.
local function parseDelayedMember(member)
  local bar = string.find(member, "|", 1, true)
  return tonumber(string.sub(member, 1, bar - 1)), string.sub(member, bar + 1)
end
