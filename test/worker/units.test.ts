/** Small pieces of the worker: options, progress merging, the deadline timer, back-off, version. */
import { readFileSync } from "node:fs";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { defineTask, SDK_VERSION, Worker, WorkerConfigError } from "../../src/worker/index.js";
import { DeadlineTimer } from "../../src/worker/deadline-timer.js";
import { mergeProgress } from "../../src/worker/progress.js";
import { reconnectDelay, RECONNECT_MAX_MS } from "../../src/worker/reconnect-backoff.js";
import { defaultQueues } from "../../src/worker/hello.js";
import { deferred } from "./scripted-peer.js";

const task = (name: string, extra: Record<string, unknown> = {}) =>
  defineTask({ name, input: StructSchema, output: StructSchema, ...extra }, async () => ({}));

describe("Worker options", () => {
  it.each([
    ["no tasks", { tasks: [] }, /at least one task/],
    ["a task twice", { tasks: [task("a"), task("a")] }, /listed twice/],
    ["a bad timeout", { tasks: [task("a", { timeout: "soon" })] }, /timeout/],
    ["negative retries", { tasks: [task("a", { retries: -1 })] }, /retries/],
    ["a retention under a minute", { tasks: [task("a", { retention: "30s" })] }, /retention must be a duration from 1 minute to 3650 days/],
    ["a retention over 10 years", { tasks: [task("a", { retention: "3651d" })] }, /retention must be a duration from 1 minute/],
    ["a malformed retention", { tasks: [task("a", { retention: "a week" })] }, /retention/],
    ["zero concurrency", { tasks: [task("a")], concurrency: 0 }, /concurrency/],
    ["a negative prefetch", { tasks: [task("a")], prefetch: -1 }, /prefetch must be an integer from 0/],
    ["a fractional prefetch", { tasks: [task("a")], prefetch: 1.5 }, /prefetch must be an integer from 0/],
    ["a bad queue", { tasks: [task("a")], queues: ["no spaces"] }, /queues/],
    ["a bad url", { tasks: [task("a")], url: "localhost:50051" }, /url/],
  ])("refuses %s", (_case, options, message) => {
    expect(() => new Worker({ url: "http://localhost:50051", ...options })).toThrow(WorkerConfigError);
    expect(() => new Worker({ url: "http://localhost:50051", ...options })).toThrow(message);
  });

  it("defaults the queues to the tasks' queues, then the convention", () => {
    expect(defaultQueues([task("a", { queue: "x" }), task("b", { queue: "y" }), task("c", { queue: "x" })])).toEqual(["x", "y"]);
    expect(defaultQueues([task("a")])).toEqual(["high_priority", "default", "low_priority"]);
    expect(defaultQueues([task("a", { queue: "default" }), task("b")])).toEqual(["default", "high_priority", "low_priority"]);
  });

  it("starts in INITIALIZED with a generated id", () => {
    const worker = new Worker({ url: "http://localhost:50051", tasks: [task("a")] });
    expect(worker.state).toBe("INITIALIZED");
    expect(worker.id).toMatch(/-\d+-[0-9a-f]{8}$/);
  });
});

describe("mergeProgress", () => {
  it("keeps fields an update does not give, clamps the percent and derives it from current/total", () => {
    let snapshot = mergeProgress(undefined, 140);
    expect(snapshot).toEqual({ percent: 100, message: "" });
    snapshot = mergeProgress(snapshot, { message: "hi", details: { a: 1 } });
    expect(snapshot).toEqual({ percent: 100, message: "hi", details: { a: 1 } });
    snapshot = mergeProgress(snapshot, { current: 1, total: 4 });
    expect(snapshot.percent).toBe(25);
    snapshot = mergeProgress(snapshot, { percent: Number.NaN, current: 3 });
    expect(snapshot).toMatchObject({ percent: 25, current: 3, total: 4 });
  });
});

describe("DeadlineTimer", () => {
  it("expires entries in deadline order with one timer and forgets deleted ones", async () => {
    const timer = new DeadlineTimer();
    const fired: string[] = [];
    const done = deferred();
    const now = Date.now();
    timer.set("late", new Date(now + 30), () => {
      fired.push("late");
      done.resolve();
    });
    timer.set("early", new Date(now + 5), () => fired.push("early"));
    timer.set("gone", new Date(now + 10), () => fired.push("gone"));
    timer.delete("gone");
    expect(timer.size).toBe(2);
    await done.promise;
    expect(fired).toEqual(["early", "late"]);
    expect(timer.size).toBe(0);
  });
});

describe("reconnectDelay", () => {
  it("doubles from 100 ms up to 10 s, with jitter in the upper half", () => {
    expect(reconnectDelay(0, () => 0)).toBe(50);
    expect(reconnectDelay(0, () => 1)).toBe(100);
    expect(reconnectDelay(3, () => 1)).toBe(800);
    expect(reconnectDelay(50, () => 1)).toBe(RECONNECT_MAX_MS);
  });
});

describe("SDK_VERSION", () => {
  it("matches package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    expect(SDK_VERSION).toBe(pkg.version);
  });
});
