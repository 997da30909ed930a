/**
 * `ctx.context` (src/common/context-values.ts): dotted keys, copies in and out, merges, deletes,
 * what it refuses (keys, non-JSON values, a context over the server's bound) and when it reports
 * a change; and `runTask` resuming from a given context.
 */
import { describe, expect, it } from "vitest";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import type { JsonObject } from "@bufbuild/protobuf";
import { ContextTooLargeError, ContextValues, contextBytes } from "../../src/common/context-values.js";
import { defineTask, runTask } from "../../src/worker/index.js";

function values(initial?: JsonObject, maxBytes?: number): { context: ContextValues; changes: JsonObject[] } {
  const changes: JsonObject[] = [];
  return { context: new ContextValues(initial, (next) => changes.push(next), maxBytes), changes };
}

describe("ContextValues", () => {
  it("sets and gets values under dotted keys, making the objects on the way", () => {
    const { context, changes } = values({ started: true });
    context.set("validation.status", "ok");
    context.set("validation.checks", [1, 2]);
    expect(context.get("validation.status")).toBe("ok");
    expect(context.get("validation")).toEqual({ status: "ok", checks: [1, 2] });
    expect(context.get()).toEqual({ started: true, validation: { status: "ok", checks: [1, 2] } });
    expect(context.get("missing.key")).toBeUndefined();
    expect(context.get("started.deeper")).toBeUndefined();
    expect(changes.at(-1)).toEqual({ started: true, validation: { status: "ok", checks: [1, 2] } });
    // A value on the way that is not an object is replaced by one.
    context.set("started.at", "noon");
    expect(context.get("started")).toEqual({ at: "noon" });
  });

  it("hands out copies and takes copies: changing them changes nothing", () => {
    const given = { list: [1] };
    const { context } = values();
    context.set("a", given);
    given.list.push(2);
    const read = context.get<{ list: number[] }>("a")!;
    read.list.push(3);
    expect(context.get("a")).toEqual({ list: [1] });
    const whole = context.toJSON();
    (whole["a"] as JsonObject)["x"] = 1;
    expect(context.get("a")).toEqual({ list: [1] });
  });

  it("merges deeply, at the top or under a key, and deletes", () => {
    const { context } = values({ a: { b: 1, c: { d: 2 } } });
    context.merge({ a: { c: { e: 3 } }, f: 4 });
    expect(context.toJSON()).toEqual({ a: { b: 1, c: { d: 2, e: 3 } }, f: 4 });
    context.merge({ d: 5 }, "a.c");
    expect(context.get("a.c")).toEqual({ d: 5, e: 3 });
    context.merge({ y: 1 }, "new.place");
    expect(context.get("new.place")).toEqual({ y: 1 });
    expect(context.delete("a.c.d")).toBe(true);
    expect(context.delete("a.c.d")).toBe(false);
    context.set("f", undefined);
    expect(context.toJSON()).toEqual({ a: { b: 1, c: { e: 3 } }, new: { place: { y: 1 } } });
  });

  it("reports a change only when something changed", () => {
    const { context, changes } = values();
    context.set("a", 1);
    context.set("a", 1);
    context.delete("nothing");
    context.merge({});
    expect(changes).toEqual([{ a: 1 }]);
  });

  it("refuses bad keys and values that are not JSON, unchanged", () => {
    const { context, changes } = values({ kept: 1 });
    for (const key of ["", "a..b", ".a", "a.", "k".repeat(1025)]) expect(() => context.set(key, 1)).toThrow(TypeError);
    expect(() => context.set("n", Number.NaN)).toThrow(/finite/);
    expect(() => context.set("n", Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => context.set("d", new Date() as never)).toThrow(/instance of a class/);
    expect(() => context.set("f", (() => 1) as never)).toThrow(/a function/);
    expect(() => context.set("deep", { list: [1, Number.NaN] } as never)).toThrow(/deep\.list\[1\]/);
    expect(context.toJSON()).toEqual({ kept: 1 });
    expect(changes).toEqual([]);
  });

  it("refuses a change that would take the context over the server's bound, leaving it as it was", () => {
    const { context, changes } = values({}, 256);
    context.set("small", "ok");
    expect(() => context.set("big", "x".repeat(300))).toThrow(ContextTooLargeError);
    try {
      context.set("big", "x".repeat(300));
    } catch (error) {
      expect(error).toMatchObject({ name: "ContextTooLargeError", maxBytes: 256 });
      expect((error as ContextTooLargeError).bytes).toBeGreaterThan(256);
    }
    expect(context.toJSON()).toEqual({ small: "ok" });
    expect(changes).toEqual([{ small: "ok" }]);
    expect(contextBytes({ small: "ok" })).toBeLessThan(256);
  });
});

describe("runTask with a context", () => {
  const resumes = defineTask({ name: "unit.resumes", input: StructSchema, output: StructSchema }, async (_input, ctx) => {
    const done = ctx.context.get<number>("rows") ?? 0;
    ctx.context.set("rows", done + 10);
    ctx.log.info("imported", { from: done, to: done + 10 });
    return { from: done };
  });

  it("starts from the given context and returns the one the handler left, and the lines with their fields", async () => {
    const first = await runTask(resumes, {});
    expect(first.output).toEqual({ from: 0 });
    const second = await runTask(resumes, {}, { attempt: 2, context: first.context });
    expect(second.output).toEqual({ from: 10 });
    expect(second.context).toEqual({ rows: 20 });
    expect(second.logs).toEqual([{ level: "info", message: "imported", fields: { from: 10, to: 20 } }]);
  });
});
