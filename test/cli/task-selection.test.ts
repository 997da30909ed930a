import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { collectGroups, RETRYABLE_STATES, targetsOf } from "../../src/cli/commands/tasks-bulk.js";
import { UsageError } from "../../src/cli/context.js";
import { selectorOf } from "../../src/cli/task-selection.js";
import { ALL_STATES, TERMINAL_STATE_LIST, UNFINISHED_STATE_LIST } from "../../src/core/task-states.js";

const JAN = new Date("2030-01-01T00:00:00Z");
const FEB = new Date("2030-02-01T00:00:00Z");

describe("selectorOf", () => {
  it("is undefined when no flag narrows the selection", () => {
    expect(selectorOf({}, ALL_STATES, "count")).toBeUndefined();
    expect(selectorOf({ state: [] }, ALL_STATES, "count")).toBeUndefined();
  });

  it("turns the flags into the SDK's selector, states by name", () => {
    expect(
      selectorOf(
        { state: [TaskState.FAILED], type: "t", queue: "q", finishedAfter: JAN, finishedBefore: FEB, createdBefore: FEB },
        RETRYABLE_STATES,
        "retry",
      ),
    ).toEqual({ states: ["FAILED"], type: "t", queue: "q", finishedAfter: JAN, finishedBefore: FEB, createdBefore: FEB });
    expect(selectorOf({ queue: "q" }, ALL_STATES, "count")).toEqual({ queue: "q" });
  });

  it("refuses states the action does not take, naming them", () => {
    expect(() => selectorOf({ state: [TaskState.RUNNING, TaskState.QUEUED] }, RETRYABLE_STATES, "retry")).toThrow(
      new UsageError("retry takes only failed or cancelled tasks, not running or queued"),
    );
    expect(() => selectorOf({ state: [TaskState.SUCCEEDED] }, UNFINISHED_STATE_LIST, "cancel")).toThrow(
      "cancel takes only waiting, queued, scheduled, running or cancelling tasks, not succeeded",
    );
    expect(() => selectorOf({ state: [TaskState.QUEUED] }, TERMINAL_STATE_LIST, "delete")).toThrow(
      "delete takes only succeeded, failed or cancelled tasks, not queued",
    );
  });

  it("refuses finish times that cannot match", () => {
    expect(() => selectorOf({ finishedBefore: FEB }, UNFINISHED_STATE_LIST, "cancel")).toThrow(/take finished tasks; cancel takes only/);
    expect(() => selectorOf({ state: [TaskState.QUEUED], finishedAfter: JAN }, ALL_STATES, "count")).toThrow(
      "--finished-after and --finished-before take finished tasks, but --state names only queued",
    );
    expect(() => selectorOf({ finishedAfter: FEB, finishedBefore: JAN }, ALL_STATES, "count")).toThrow(
      "--finished-after must be earlier than --finished-before",
    );
  });
});

describe("targetsOf", () => {
  it("takes ids, or a selector, or with --all every state the action may take", () => {
    expect(targetsOf(["a", "b"], {}, RETRYABLE_STATES, "retry")).toEqual({ ids: ["a", "b"] });
    expect(targetsOf([], { type: "t" }, RETRYABLE_STATES, "retry")).toEqual({ selector: { type: "t" } });
    expect(targetsOf([], { all: true }, TERMINAL_STATE_LIST, "delete")).toEqual({ selector: { states: ["SUCCEEDED", "FAILED", "CANCELLED"] } });
    expect(targetsOf([], { all: true, queue: "q" }, RETRYABLE_STATES, "retry")).toEqual({ selector: { queue: "q" } });
  });

  it("refuses an unnarrowed selection, and ids mixed with flags", () => {
    expect(() => targetsOf([], {}, TERMINAL_STATE_LIST, "delete")).toThrow(/^delete: give task ids, or choose tasks with --state/);
    expect(() => targetsOf(["a"], { queue: "q" }, RETRYABLE_STATES, "retry")).toThrow("retry: give task ids or selection flags (or --all), not both");
    expect(() => targetsOf(["a"], { all: true }, RETRYABLE_STATES, "retry")).toThrow(UsageError);
  });
});

describe("collectGroups", () => {
  it("accumulates type and queue; state is always a group", () => {
    expect(collectGroups("state")).toEqual([]);
    expect(collectGroups("queue", collectGroups("Type,state"))).toEqual(["type", "queue"]);
    expect(collectGroups("type", ["type"])).toEqual(["type"]);
    expect(() => collectGroups("color")).toThrow(InvalidArgumentError);
  });
});
