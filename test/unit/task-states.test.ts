/**
 * The one table of task states: every derived list is a partition of it, the SQL lists match,
 * and each state has its protobuf enum value.
 */
import { describe, expect, it } from "vitest";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import {
  ALL_STATES,
  BLOCKED_STATE_LIST,
  HELD_STATE_LIST,
  INDEXED_STATE_LIST,
  isTaskState,
  sqlStateList,
  TERMINAL_STATE_LIST,
  UNFINISHED_STATE_LIST,
  WAITING_STATE_LIST,
} from "../../src/core/task-states.js";
import { stateFromProto, stateToProto } from "../../src/server/convert.js";

describe("task states", () => {
  it("partitions every state into blocked, waiting, held and terminal", () => {
    expect([...BLOCKED_STATE_LIST, ...WAITING_STATE_LIST, ...HELD_STATE_LIST, ...TERMINAL_STATE_LIST].sort()).toEqual([...ALL_STATES].sort());
    expect(BLOCKED_STATE_LIST).toEqual(["WAITING"]);
    // The broker indexes all but the blocked (WAITING: waiting for its parents) and the terminal.
    expect(INDEXED_STATE_LIST).toEqual([...WAITING_STATE_LIST, ...HELD_STATE_LIST]);
    expect(UNFINISHED_STATE_LIST).toEqual([...BLOCKED_STATE_LIST, ...INDEXED_STATE_LIST]);
    expect(WAITING_STATE_LIST).toEqual(["QUEUED", "SCHEDULED"]);
    expect(TERMINAL_STATE_LIST).toEqual(["SUCCEEDED", "FAILED", "CANCELLED"]);
  });

  it("has a protobuf value for each state, and back", () => {
    for (const state of ALL_STATES) expect(stateFromProto(stateToProto(state))).toBe(state);
    const protoNames = Object.keys(TaskState).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED");
    expect(protoNames.sort()).toEqual([...ALL_STATES].sort());
  });

  it("writes SQL lists and recognises names", () => {
    expect(sqlStateList(["QUEUED", "RUNNING"])).toBe("('QUEUED', 'RUNNING')");
    expect(isTaskState("RUNNING")).toBe(true);
    expect(isTaskState("running")).toBe(false);
    expect(isTaskState("toString")).toBe(false);
  });
});
