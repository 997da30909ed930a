/**
 * The drawing of `taskwire tasks tree` (`formatTree`): a diamond's join printed once and named
 * again, parents of a task listed before it, errors of failed and cancelled tasks on their line,
 * and a cut graph said to be cut. The command against a server is in test/e2e/dependencies.test.ts.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { TaskSchema, TaskState, type Task } from "../../gen/taskwire/v1/task_pb.js";
import { formatTree, type TaskGraph } from "../../src/cli/commands/tasks-tree.js";

function task(id: string, state: TaskState, parentIds: string[] = [], error?: string): Task {
  return create(TaskSchema, { id, type: `t.${id}`, state, parentIds, error: error === undefined ? undefined : { message: error } });
}

function graph(tasks: Task[], children: Record<string, string[]>, truncated = false): TaskGraph {
  return { tasks: new Map(tasks.map((t) => [t.id, t])), children: new Map(Object.entries(children)), truncated };
}

describe("tasks tree", () => {
  const a = task("a", TaskState.SUCCEEDED);
  const b = task("b", TaskState.FAILED, ["a"], "boom");
  const c = task("c", TaskState.SUCCEEDED, ["a"]);
  const d = task("d", TaskState.CANCELLED, ["b", "c"], "parent task b failed");

  it("draws a diamond from its root, the join once", () => {
    expect(formatTree(graph([a, b, c, d], { a: ["b", "c"], b: ["d"], c: ["d"] }), "a")).toBe(
      [
        "a  t.a  SUCCEEDED",
        "├─ b  t.b  FAILED  boom",
        "│  └─ d  t.d  CANCELLED  parent task b failed",
        "└─ c  t.c  SUCCEEDED",
        "   └─ d  (see above)",
        "",
      ].join("\n"),
    );
  });

  it("lists the parents of a task in the middle before it", () => {
    expect(formatTree(graph([b, a, d], { b: ["d"] }), "b")).toBe(["parents:", "  a  t.a  SUCCEEDED", "b  t.b  FAILED  boom", "└─ d  t.d  CANCELLED  parent task b failed", ""].join("\n"));
  });

  it("says when the graph was cut", () => {
    expect(formatTree(graph([a], {}, true), "a")).toBe("a  t.a  SUCCEEDED\n(cut at 1000 tasks)\n");
  });
});
