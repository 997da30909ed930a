--[[
  Makes tasks runnable: each goes into the runnable set of its type, in the order given, with
  arrival numbers of the queue's counter (so that FIFO holds across the queue's types), and its
  type is recorded in the queue's type set. An id already in its type's set keeps its place
  (ZADD NX). Needs the "pending-score" and "call-in-slices" includes before it.

  tasks: array of { id, type, priority (number) }
  Returns the number of ids added.
]]
local function addRunnable(pendingPrefix, typesKey, seqKey, priorityMax, tasks)
  if #tasks == 0 then
    return 0
  end
  local firstArrival = reserveArrivals(seqKey, #tasks)
  local argsByType = {}
  local types = {}
  for i, task in ipairs(tasks) do
    local args = argsByType[task[2]]
    if args == nil then
      args = {}
      argsByType[task[2]] = args
      types[#types + 1] = task[2]
    end
    args[#args + 1] = pendingScore(priorityMax, task[3], firstArrival + i - 1)
    args[#args + 1] = task[1]
  end
  local added = 0
  for _, taskType in ipairs(types) do
    added = added + callInSlices("ZADD", pendingPrefix .. taskType, { "NX" }, argsByType[taskType])
  end
  callInSlices("SADD", typesKey, {}, types)
  return added
end
