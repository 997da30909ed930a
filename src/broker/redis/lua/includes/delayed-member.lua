--[[
  Members of the delayed set are "<priority>|<type>|<id>": the priority and the type travel
  with the id, so a promotion puts the task back in its type's runnable set with its priority
  without a per-task hash, and Redis holds only ids and scores. Neither the priority nor the
  type (TYPE_NAME in src/core/limits.ts) contains "|", so the first two "|" end them; the id
  may contain anything.
]]
local function delayedMember(priority, taskType, id)
  return priority .. "|" .. taskType .. "|" .. id
end

-- Returns priority (number), type and id of a delayed member.
local function parseDelayedMember(member)
  local first = string.find(member, "|", 1, true)
  local second = string.find(member, "|", first + 1, true)
  return tonumber(string.sub(member, 1, first - 1)), string.sub(member, first + 1, second - 1), string.sub(member, second + 1)
end
