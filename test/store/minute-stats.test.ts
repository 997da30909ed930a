/**
 * The per-minute counters of the overview (`task_minute_stats`) on PostgreSQL and PGlite: counts
 * added by several writers to one minute are summed (the wait histogram bucket by bucket), reads
 * start at a minute, old minutes are pruned; and the server-side counters and their quantiles.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskRecord } from "../../src/core/task-types.js";
import { MinuteCounters, WAIT_BUCKETS_MS, waitQuantileMs } from "../../src/server/observability/minute-counters.js";
import { flushMinuteStats } from "../../src/server/duties/minute-stats-flush.js";
import type { TaskStore } from "../../src/store/store.js";
import { createTestPgliteStore, createTestStore } from "../support/database.js";

const MINUTE = 60_000;
const T0 = Date.parse("2030-01-01T10:00:00.000Z");
const buckets = (at: Record<number, number>): number[] => Array.from({ length: WAIT_BUCKETS_MS.length + 1 }, (_, i) => at[i] ?? 0);
const task = (state: TaskRecord["state"], scheduledAt: number): TaskRecord => ({ state, scheduledAt: new Date(scheduledAt), type: "t", queue: "q" }) as TaskRecord;

describe("minute counters", () => {
  it("count starts with their queue wait and outcomes per minute, and give them back when a write fails", () => {
    const counters = new MinuteCounters();
    counters.started(task("RUNNING", T0), T0 + 30); // 30 ms: the 50 ms bucket
    counters.started(task("RUNNING", T0), T0 + 70_000); // next minute, 70 s: the 300 s bucket
    counters.finished(task("SUCCEEDED", T0), T0 + 1000);
    counters.finished(task("FAILED", T0), T0 + 2000);
    counters.finished(task("CANCELLED", T0), T0 + 61_000);
    const taken = counters.take().sort((a, b) => a.minute - b.minute);
    expect(taken).toEqual([
      { minute: T0, succeeded: 1, failed: 1, cancelled: 0, started: 1, waitBuckets: buckets({ 3: 1 }) },
      { minute: T0 + MINUTE, succeeded: 0, failed: 0, cancelled: 1, started: 1, waitBuckets: buckets({ 13: 1 }) },
    ]);
    expect(counters.take()).toEqual([]);
    counters.restore(taken);
    counters.finished(task("SUCCEEDED", T0), T0 + 5);
    expect(counters.take().find((m) => m.minute === T0)?.succeeded).toBe(2);
  });

  it("read quantiles as bucket bounds", () => {
    expect(waitQuantileMs(buckets({}), 0.5)).toBeUndefined();
    expect(waitQuantileMs(buckets({ 0: 50, 5: 45, 9: 5 }), 0.5)).toBe(5);
    expect(waitQuantileMs(buckets({ 0: 50, 5: 45, 9: 5 }), 0.95)).toBe(250);
    expect(waitQuantileMs(buckets({ 0: 50, 5: 45, 9: 5 }), 0.99)).toBe(5000);
    expect(waitQuantileMs(buckets({ [WAIT_BUCKETS_MS.length]: 1 }), 0.5)).toBe(WAIT_BUCKETS_MS.at(-1));
  });
});

describe.each([
  ["PostgreSQL", () => createTestStore()],
  ["PGlite", () => createTestPgliteStore()],
] as const)("task_minute_stats on %s", (_name, open) => {
  let store: TaskStore;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await open());
  }, 60_000);
  afterAll(() => cleanup?.());

  it("sums what several servers add to a minute, reads from a minute on, prunes old minutes", async () => {
    const minute = new Date(T0);
    await store.addMinuteStats([{ minute, succeeded: 2, failed: 1, cancelled: 0, started: 3, waitBuckets: buckets({ 0: 2, 4: 1 }) }]);
    await store.addMinuteStats([
      { minute, succeeded: 5, failed: 0, cancelled: 1, started: 4, waitBuckets: buckets({ 4: 3, 16: 1 }) },
      { minute: new Date(T0 + MINUTE), succeeded: 1, failed: 0, cancelled: 0, started: 1, waitBuckets: buckets({ 1: 1 }) },
    ]);
    // A server's counters through its flush, as the duty writes them.
    const counters = new MinuteCounters();
    counters.finished(task("FAILED", T0), T0 + 10);
    await flushMinuteStats({ store, counters });

    expect(await store.readMinuteStats(new Date(T0))).toEqual([
      { minute, succeeded: 7, failed: 2, cancelled: 1, started: 7, waitBuckets: buckets({ 0: 2, 4: 4, 16: 1 }) },
      { minute: new Date(T0 + MINUTE), succeeded: 1, failed: 0, cancelled: 0, started: 1, waitBuckets: buckets({ 1: 1 }) },
    ]);
    expect((await store.readMinuteStats(new Date(T0 + MINUTE))).map((r) => r.minute)).toEqual([new Date(T0 + MINUTE)]);
    expect(await store.pruneMinuteStats(new Date(T0 + MINUTE))).toBe(1);
    expect((await store.readMinuteStats(new Date(0))).map((r) => r.minute)).toEqual([new Date(T0 + MINUTE)]);
  });
});
