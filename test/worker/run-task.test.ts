/** `runTask`: unit-testing task code without a server. */
import { Int64ValueSchema, StringValueSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  defineTask,
  NonRetryableError,
  runTask,
  CancelRequestedError,
  TaskTimeoutError,
  type TaskContext,
} from "../../src/worker/index.js";

const square = defineTask(
  { name: "unit.square", input: Int64ValueSchema, output: StringValueSchema, retries: 4 },
  async (input, ctx) => {
    ctx.progress(50);
    ctx.progress({ message: "multiplying" });
    ctx.log.info(`squaring ${input.value}`);
    ctx.progress({ current: 2, total: 2 });
    return { value: (input.value * input.value).toString() };
  },
);

const waitForAbort = defineTask({ name: "unit.wait", input: StructSchema, output: StructSchema }, (_input, ctx) => {
  return new Promise((_, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason);
    ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
  });
});

describe("runTask", () => {
  it("runs a typed handler and records merged progress and logs", async () => {
    const seen: number[] = [];
    const result = await runTask(square, { value: 7n }, { onProgress: (snapshot) => seen.push(snapshot.percent) });
    expect(result.output.value).toBe("49");
    expect(result.progress).toEqual([
      { percent: 50, message: "" },
      { percent: 50, message: "multiplying" },
      { percent: 100, message: "multiplying", current: 2, total: 2 },
    ]);
    expect(seen).toEqual([50, 50, 100]);
    expect(result.logs).toEqual([{ level: "info", message: "squaring 7" }]);
  });

  it("gives the context it is told, and defaults the rest", async () => {
    let seen: TaskContext | undefined;
    const probe = defineTask({ name: "unit.probe", input: StructSchema, output: StructSchema, retries: 1 }, async (input, ctx) => {
      seen = ctx;
      return { got: input };
    });
    const result = await runTask(probe, { a: [1, "x"] }, { taskId: "t-1", attempt: 2 });
    expect(result.output).toEqual({ got: { a: [1, "x"] } });
    expect(seen).toMatchObject({ taskId: "t-1", attempt: 2, maxAttempts: 2, deadline: undefined });
    expect(seen?.signal.aborted).toBe(false);
    const defaults = await runTask(square, { value: 1n });
    expect(defaults.output.value).toBe("1");
  });

  it("rejects with what the handler threw", async () => {
    const refuse = defineTask({ name: "unit.refuse", input: StructSchema, output: StructSchema }, async () => {
      throw new NonRetryableError("no");
    });
    await expect(runTask(refuse, {})).rejects.toBeInstanceOf(NonRetryableError);
  });

  it("aborts the signal at the deadline with TaskTimeoutError", async () => {
    await expect(runTask(waitForAbort, {}, { deadline: new Date(Date.now() + 10) })).rejects.toBeInstanceOf(TaskTimeoutError);
  });

  it("passes an abort of the given signal through, reason included", async () => {
    const controller = new AbortController();
    const running = runTask(waitForAbort, {}, { signal: controller.signal });
    controller.abort(new CancelRequestedError("test"));
    await expect(running).rejects.toBeInstanceOf(CancelRequestedError);
    const already = AbortSignal.abort(new CancelRequestedError("before"));
    await expect(runTask(waitForAbort, {}, { signal: already })).rejects.toThrow(/before/);
  });

  it("rejects an output that does not encode as the output type", async () => {
    const bad = defineTask({ name: "unit.bad", input: StructSchema, output: StructSchema }, async () => ({
      nope: undefined as never,
    }));
    await expect(runTask(bad, {})).rejects.toThrow();
  });
});
