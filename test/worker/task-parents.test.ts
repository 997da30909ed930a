/**
 * `ctx.parents` (`src/worker/task-parents.ts`), through `runTask`: the parents in the order
 * named, outputs decoded and typed by a definition (one, or all of a type for a fan-in), decoded
 * on their own for types the worker serves, a failed parent's state for a RUN policy, an output
 * left out for size refused with a clear message, and no parents at all.
 */
import { StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AssignedParentSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { defineTask, runTask, taskParents } from "../../src/worker/index.js";

const count = defineTask({ name: "t.count", input: StructSchema, output: UInt32ValueSchema }, async () => ({ value: 1 }));
const other = defineTask({ name: "t.other", input: StructSchema, output: StructSchema }, async () => ({}));

const join = defineTask({ name: "t.join", input: StructSchema, output: StructSchema }, async (_input, ctx) => ({
  total: ctx.parents.outputsOf(count).reduce((sum, output) => sum + output.value, 0),
  first: ctx.parents.outputOf(count)?.value ?? null,
  other: ctx.parents.outputOf(other) ?? null,
  states: ctx.parents.map((parent) => `${parent.type}:${parent.state}`),
  ids: ctx.parents.map((parent) => parent.taskId),
}));

describe("ctx.parents", () => {
  it("decodes and types the outputs of a definition's parents, in order", async () => {
    const { output } = await runTask(join, {}, {
      parents: [
        { task: count, output: { value: 2 }, taskId: "a" },
        { task: other, output: { note: "hi" }, taskId: "b" },
        { task: count, output: { value: 5 }, taskId: "c" },
        { task: count, state: "FAILED", taskId: "d" },
      ],
    });
    expect(output).toEqual({
      total: 7,
      first: 2,
      other: { note: "hi" },
      states: ["t.count:SUCCEEDED", "t.other:SUCCEEDED", "t.count:SUCCEEDED", "t.count:FAILED"],
      ids: ["a", "b", "c", "d"],
    });
  });

  it("is empty for a task without parents", async () => {
    const { output } = await runTask(join, {});
    expect(output).toMatchObject({ total: 0, first: null, states: [] });
  });

  it("decodes an output on its own for a type the worker serves, and keeps the raw one", () => {
    const parents = taskParents(
      [create(AssignedParentSchema, { taskId: "p", type: "t.count", state: TaskState.SUCCEEDED, output: { typeUrl: "type.googleapis.com/google.protobuf.UInt32Value", value: new Uint8Array([8, 9]) } })],
      new Map([["t.count", count]]),
    );
    expect(parents[0]?.output).toMatchObject({ value: 9 });
    expect(parents[0]?.rawOutput?.typeUrl).toBe("type.googleapis.com/google.protobuf.UInt32Value");
    expect(parents.get("P")?.taskId).toBe("p");
    // Not served here: no decoded value, the raw output stays.
    expect(taskParents(parents.map((p) => create(AssignedParentSchema, { taskId: p.taskId, type: p.type, state: TaskState.SUCCEEDED, output: p.rawOutput })), new Map())[0]?.output).toBeUndefined();
  });

  it("refuses to read an output that was left out of the assignment for size", () => {
    const parents = taskParents([create(AssignedParentSchema, { taskId: "big", type: "t.count", state: TaskState.SUCCEEDED, outputOmitted: true })], new Map());
    expect(parents[0]?.outputOmitted).toBe(true);
    expect(() => parents.outputOf(count)).toThrow(/parent task big \(t\.count\) was left out of the assignment for size; read it with client\.getStatus\("big"\)/);
  });
});
