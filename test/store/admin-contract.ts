/**
 * The operator views and bulk actions on tasks of a `TaskStore` (counts, retry, cancel, delete,
 * queue figures: what AdminService and retention ask of it), written against the interface
 * only. `describeStoreContract` registers it, so the PostgreSQL and the PGlite store both run it.
 *
 * The bulk actions are run the way their callers run them: calls of at most `limit` tasks in a
 * loop until a call returns fewer, over 10,000 tasks in batches of 1,000, and two such loops at
 * once, which must split the work and change each task exactly once.
 */
import { uuidv7 } from "uuidv7";
import { describe, expect, it } from "vitest";
import type { TaskRecord } from "../../src/core/task-types.js";
import type { TaskSelection, TaskStore } from "../../src/store/store.js";
import { at, attemptError, insertOne, mustGet, newTask, taskIn } from "./fixtures.js";

/** Tasks of the bulk tests, and their batch size. */
const BULK_TASKS = 10_000;
const BATCH = 1_000;
/** PGlite runs the 10,000-task loops slowly on a small machine. */
const BULK_TIMEOUT_MS = 240_000;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** Calls `call` until it returns fewer than {@link BATCH}; returns what each call returned. */
async function loop<T>(call: () => Promise<T[]>): Promise<T[][]> {
  const batches: T[][] = [];
  for (;;) {
    const batch = await call();
    batches.push(batch);
    if (batch.length < BATCH) return batches;
  }
}

/** {@link loop} for calls that return a count. */
async function loopCount(call: () => Promise<number>): Promise<number[]> {
  const counts: number[] = [];
  for (;;) {
    const count = await call();
    counts.push(count);
    if (count < BATCH) return counts;
  }
}
const ids = (tasks: readonly { id: string }[]): string[] => tasks.map((task) => task.id);
const sorted = (values: readonly string[]): string[] => [...values].sort();

/** Registers the suite; `freshStore` gives a migrated, empty store of the test's own. */
export function describeAdminContract(freshStore: () => Promise<TaskStore>): void {
  describe("countTasks and selections", () => {
    /** One task in every state, of types a/b, in queues q1/q2, created and finished at known times. */
    async function fixture(store: TaskStore) {
      const plan = [
        // name, state, type, queue, created / finished (ms after T0)
        ["queued", "QUEUED", "a", "q1", 0],
        ["scheduled", "SCHEDULED", "b", "q1", 1000],
        ["running", "RUNNING", "a", "q2", 2000],
        ["cancelling", "CANCELLING", "b", "q2", 3000],
        ["succeeded", "SUCCEEDED", "a", "q1", 4000],
        ["failed", "FAILED", "a", "q2", 5000],
        ["cancelled", "CANCELLED", "b", "q1", 6000],
        ["failed2", "FAILED", "b", "q1", 7000],
      ] as const;
      const tasks = new Map<string, TaskRecord>();
      for (const [name, state, type, queue, time] of plan) {
        tasks.set(name, await taskIn(store, state, { finishedAt: at(time), task: { type, queue, createdAt: at(time) } }));
      }
      return Object.fromEntries(tasks) as Record<(typeof plan)[number][0], TaskRecord>;
    }

    it("counts by state in lifecycle order, and by type and queue when asked", async () => {
      const store = await freshStore();
      await fixture(store);
      expect(await store.countTasks({}, { type: false, queue: false })).toEqual([
        { state: "QUEUED", count: 1 },
        { state: "SCHEDULED", count: 1 },
        { state: "RUNNING", count: 1 },
        { state: "CANCELLING", count: 1 },
        { state: "SUCCEEDED", count: 1 },
        { state: "FAILED", count: 2 },
        { state: "CANCELLED", count: 1 },
      ]);
      expect(await store.countTasks({ states: ["FAILED", "QUEUED"] }, { type: true, queue: false })).toEqual([
        { state: "QUEUED", type: "a", count: 1 },
        { state: "FAILED", type: "a", count: 1 },
        { state: "FAILED", type: "b", count: 1 },
      ]);
      expect(await store.countTasks({ type: "b" }, { type: false, queue: true })).toEqual([
        { state: "SCHEDULED", queue: "q1", count: 1 },
        { state: "CANCELLING", queue: "q2", count: 1 },
        { state: "FAILED", queue: "q1", count: 1 },
        { state: "CANCELLED", queue: "q1", count: 1 },
      ]);
      const both = await store.countTasks({ states: ["FAILED"] }, { type: true, queue: true });
      expect(both).toEqual([
        { state: "FAILED", type: "a", queue: "q2", count: 1 },
        { state: "FAILED", type: "b", queue: "q1", count: 1 },
      ]);
      expect(await store.countTasks({ type: "nothing" }, { type: true, queue: true })).toEqual([]);
    });

    it("narrows by every field of the selection, and by all of them together", async () => {
      const store = await freshStore();
      const t = await fixture(store);
      const selected = async (selection: TaskSelection): Promise<string[]> => {
        const rows = await store.countTasks(selection, { type: false, queue: false });
        return rows.flatMap((row) => Array<string>(row.count).fill(row.state));
      };

      expect(await selected({ ids: [t.queued.id, t.failed.id, uuidv7(), "not-a-uuid"] })).toEqual(["QUEUED", "FAILED"]);
      expect(await selected({ ids: ["not-a-uuid"] })).toEqual([]);
      // Empty lists narrow nothing (proto3 cannot tell them from absent ones).
      expect(await selected({ ids: [], states: [], excludeTypes: [] })).toHaveLength(8);
      expect(await selected({ states: ["RUNNING", "CANCELLING"] })).toEqual(["RUNNING", "CANCELLING"]);
      expect(await selected({ type: "a" })).toEqual(["QUEUED", "RUNNING", "SUCCEEDED", "FAILED"]);
      expect(await selected({ queue: "q2" })).toEqual(["RUNNING", "CANCELLING", "FAILED"]);
      // Finished at or after; strictly before. Unfinished tasks have no finish time.
      expect(await selected({ finishedAfter: at(5000) })).toEqual(["FAILED", "FAILED", "CANCELLED"]);
      expect(await selected({ finishedBefore: at(5000) })).toEqual(["SUCCEEDED"]);
      expect(await selected({ finishedAfter: at(4001), finishedBefore: at(7000) })).toEqual(["FAILED", "CANCELLED"]);
      // Created strictly before.
      expect(await selected({ createdBefore: at(2000) })).toEqual(["QUEUED", "SCHEDULED"]);
      expect(await selected({ excludeTypes: ["a"] })).toEqual(["SCHEDULED", "CANCELLING", "FAILED", "CANCELLED"]);
      expect(await selected({ excludeTypes: ["a", "b"] })).toEqual([]);
      expect(
        await selected({
          ids: [t.failed.id, t.failed2.id, t.cancelled.id, t.succeeded.id],
          states: ["FAILED", "CANCELLED"],
          queue: "q1",
          finishedAfter: at(6000),
          createdBefore: at(7000),
          excludeTypes: ["c"],
        }),
      ).toEqual(["CANCELLED"]);
    });
  });

  describe("retryTasks", () => {
    it("queues failed and cancelled tasks now, output cleared and errors kept; nothing else", async () => {
      const store = await freshStore();
      const running = await taskIn(store, "RUNNING");
      const [failed] = await store.finishAttempts(
        [{ kind: "failed", id: running.id, attempt: 1, error: attemptError(1, { retryable: false }) }],
        at(100),
      );
      const cancelled = await taskIn(store, "CANCELLED");
      const others = [
        await taskIn(store, "QUEUED"),
        await taskIn(store, "SCHEDULED"),
        await taskIn(store, "RUNNING"),
        await taskIn(store, "CANCELLING"),
        await taskIn(store, "SUCCEEDED"),
      ];

      // A selection of states this action does not take retries none of them.
      expect(await store.retryTasks({ states: ["SUCCEEDED", "QUEUED"] }, BATCH, at(200))).toEqual([]);
      expect(await store.retryTasks({ ids: ids(others) }, BATCH, at(200))).toEqual([]);

      const retried = await store.retryTasks({}, BATCH, at(200));
      expect(ids(retried)).toEqual([failed!.id, cancelled.id]);
      expect(retried[0]).toEqual({
        ...failed,
        state: "QUEUED",
        scheduledAt: at(200),
        maxAttempts: 1 + 3,
        outputTypeUrl: null,
        output: null,
        workerId: null,
        finishedAt: null,
        transitions: [...failed!.transitions, { state: "QUEUED", attempt: 1, time: at(200).toISOString() }],
      });
      expect(retried[0]?.errors).toEqual([attemptError(1, { retryable: false })]);
      expect(retried[1]).toMatchObject({ state: "QUEUED", attempt: 0, maxAttempts: 3, finishedAt: null });
      for (const task of others) expect(await mustGet(store, task.id)).toEqual(task);
      expect(await store.retryTasks({}, BATCH, at(300))).toEqual([]);
    });

    it("gives a fresh budget equal to the one submitted, however often retried", async () => {
      const store = await freshStore();
      const task = await insertOne(store, { maxAttempts: 2, backoff: { initialMs: 0, maxMs: 0, multiplier: 1, jitter: 0 } });

      /** Fails attempts until the task is FAILED; returns the attempt it failed at. */
      const failUntilFailed = async (): Promise<number> => {
        for (;;) {
          const [started] = (await store.startAttempts([task.id], "worker-1", at(1), [task.type])).started;
          if (!started) throw new Error("not started");
          const [after] = await store.finishAttempts(
            [{ kind: "failed", id: task.id, attempt: started.attempt, error: attemptError(started.attempt) }],
            at(2),
          );
          if (after?.state === "FAILED") return after.attempt;
          expect(after?.state).toBe("SCHEDULED");
          await store.markQueued([task.id], at(2));
        }
      };

      expect(await failUntilFailed()).toBe(2);
      expect((await store.retryTasks({ ids: [task.id] }, BATCH, at(3)))[0]?.maxAttempts).toBe(4);
      expect(await failUntilFailed()).toBe(4);
      expect((await store.retryTasks({ ids: [task.id] }, BATCH, at(4)))[0]?.maxAttempts).toBe(6);
      // A non-retryable failure after one attempt of the fresh two: two again, not three.
      const [started] = (await store.startAttempts([task.id], "worker-1", at(5), [task.type])).started;
      await store.finishAttempts(
        [{ kind: "failed", id: task.id, attempt: 5, error: attemptError(5, { retryable: false }) }],
        at(6),
      );
      expect(started?.attempt).toBe(5);
      expect((await store.retryTasks({ ids: [task.id] }, BATCH, at(7)))[0]?.maxAttempts).toBe(7);
      expect(await failUntilFailed()).toBe(7);

      const final = await mustGet(store, task.id);
      expect(final.errors.map((error) => error.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(final.transitions.filter((transition) => transition.state === "FAILED").map((t) => t.attempt)).toEqual([2, 4, 5, 7]);

      // Cancelled before it ever ran, then retried twice: its budget stays the one submitted.
      const waiting = await insertOne(store, { maxAttempts: 5 });
      await store.cancelTask(waiting.id, "no", at(1));
      expect((await store.retryTasks({ ids: [waiting.id] }, BATCH, at(2)))[0]?.maxAttempts).toBe(5);
      await store.cancelTask(waiting.id, "no", at(3));
      expect((await store.retryTasks({ ids: [waiting.id] }, BATCH, at(4)))[0]?.maxAttempts).toBe(5);
    });
  });

  describe("cancelWaiting and markCancelling", () => {
    it("cancels waiting tasks at once and marks running ones CANCELLING, each only its own states", async () => {
      const store = await freshStore();
      const queued = await taskIn(store, "QUEUED");
      const scheduled = await taskIn(store, "SCHEDULED");
      const running = await taskIn(store, "RUNNING");
      const cancelling = await taskIn(store, "CANCELLING");
      const done = await taskIn(store, "SUCCEEDED");
      const other = await taskIn(store, "QUEUED", { task: { queue: "other" } });

      expect(await store.cancelWaiting({ states: ["RUNNING", "SUCCEEDED"] }, BATCH, at(50))).toEqual([]);
      const cancelled = await store.cancelWaiting({ queue: "default" }, BATCH, at(50));
      expect(cancelled).toEqual(
        [queued, scheduled].map((task) => ({
          ...task,
          state: "CANCELLED",
          finishedAt: at(50),
          transitions: [...task.transitions, { state: "CANCELLED", attempt: 0, time: at(50).toISOString() }],
        })),
      );
      expect(await store.cancelWaiting({ queue: "default" }, BATCH, at(60))).toEqual([]);

      expect(await store.markCancelling({ states: ["QUEUED", "CANCELLING"] }, BATCH, at(70))).toEqual([]);
      const marked = await store.markCancelling({}, BATCH, at(70));
      expect(marked).toEqual([
        {
          ...running,
          state: "CANCELLING",
          transitions: [...running.transitions, { state: "CANCELLING", attempt: 1, time: at(70).toISOString() }],
        },
      ]);
      expect(await store.markCancelling({}, BATCH, at(80))).toEqual([]);
      for (const task of [cancelling, done, other]) expect(await mustGet(store, task.id)).toEqual(task);
      expect(await store.cancellingAmong([running.id, cancelling.id, other.id, "bad"])).toEqual(
        expect.arrayContaining([
          { id: running.id, attempt: 1 },
          { id: cancelling.id, attempt: 1 },
        ]),
      );
      expect(await store.cancellingAmong([other.id, done.id])).toEqual([]);
    });
  });

  describe("deleteFinished", () => {
    it("deletes only finished tasks, even when the selection names unfinished states", async () => {
      const store = await freshStore();
      const unfinished = [
        await taskIn(store, "QUEUED"),
        await taskIn(store, "SCHEDULED"),
        await taskIn(store, "RUNNING"),
        await taskIn(store, "CANCELLING"),
      ];
      const old = [
        await taskIn(store, "SUCCEEDED", { finishedAt: at(1000) }),
        await taskIn(store, "FAILED", { finishedAt: at(2000) }),
        await taskIn(store, "CANCELLED", { finishedAt: at(3000), task: { type: "kept.type" } }),
      ];
      const recent = await taskIn(store, "SUCCEEDED", { finishedAt: at(9000) });

      expect(await store.deleteFinished({ states: ["QUEUED", "SCHEDULED", "RUNNING", "CANCELLING"] }, BATCH)).toBe(0);
      expect(await store.deleteFinished({ ids: ids(unfinished) }, BATCH)).toBe(0);
      expect(await store.deleteFinished({ states: ["RUNNING", "FAILED"] }, BATCH)).toBe(1);
      expect(await store.getTask(old[1]!.id)).toBeUndefined();
      // Retention: finished before a time, some types left to their own retention; `limit` at most.
      expect(await store.deleteFinished({ finishedBefore: at(9000), excludeTypes: ["kept.type"] }, 1)).toBe(1);
      expect(await store.deleteFinished({ finishedBefore: at(9000), excludeTypes: ["kept.type"] }, 1)).toBe(0);
      expect(await store.getTask(old[0]!.id)).toBeUndefined();
      expect(await store.deleteFinished({ finishedBefore: at(9000) }, BATCH)).toBe(1);
      expect(await store.getTask(old[2]!.id)).toBeUndefined();

      for (const task of [...unfinished, recent]) expect(await mustGet(store, task.id)).toEqual(task);
      expect(await store.deleteFinished({}, BATCH)).toBe(1);
      expect((await store.countTasks({}, { type: false, queue: false })).reduce((sum, row) => sum + row.count, 0)).toBe(4);
    });
  });

  describe("bulk actions over 10,000 tasks", () => {
    /** 10,000 QUEUED tasks, of two types and two queues, inserted in one call. */
    async function bulkTasks(store: TaskStore): Promise<string[]> {
      const batch = Array.from({ length: BULK_TASKS }, (_, index) =>
        newTask({ type: index % 2 === 0 ? "demo.echo" : "demo.sleep", queue: index % 3 === 0 ? "high_priority" : "default" }),
      );
      const inserted = await store.insertTasks(batch);
      expect(inserted).toHaveLength(BULK_TASKS);
      return sorted(batch.map((task) => task.id));
    }

    /** Every batch at most BATCH; all batches together: each task of `expected` once. */
    function expectEachOnce(batches: readonly (readonly { id: string }[])[], expected: readonly string[]): void {
      for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(BATCH);
      expect(sorted(batches.flatMap(ids))).toEqual(expected);
    }

    const countByState = async (store: TaskStore) =>
      Object.fromEntries((await store.countTasks({}, { type: false, queue: false })).map((row) => [row.state, row.count]));

    it(
      "cancels, retries, marks cancelling and deletes them in batches of 1,000",
      async () => {
        const store = await freshStore();
        const all = await bulkTasks(store);

        const cancelled = await loop(() => store.cancelWaiting({ states: ["QUEUED"] }, BATCH, at(10)));
        expect(cancelled.map((batch) => batch.length)).toEqual([...Array<number>(10).fill(BATCH), 0]);
        expectEachOnce(cancelled, all);
        expect(cancelled.flat().every((task) => task.state === "CANCELLED" && task.finishedAt?.getTime() === at(10).getTime())).toBe(true);
        expect(await countByState(store)).toEqual({ CANCELLED: BULK_TASKS });

        const retried = await loop(() => store.retryTasks({ states: ["CANCELLED"] }, BATCH, at(20)));
        expectEachOnce(retried, all);
        expect(await countByState(store)).toEqual({ QUEUED: BULK_TASKS });

        const started = await store.startAttempts(all, "worker-1", at(30), ["demo.echo", "demo.sleep"]);
        expect(started.started).toHaveLength(BULK_TASKS);
        const marked = await loop(() => store.markCancelling({ queue: "default" }, BATCH, at(40)));
        const inDefault = sorted(ids(started.started.filter((task) => task.queue === "default")));
        expectEachOnce(marked, inDefault);
        expect(await countByState(store)).toEqual({ RUNNING: BULK_TASKS - inDefault.length, CANCELLING: inDefault.length });

        const finished = await store.finishAttempts(
          started.started.map((task) => ({ kind: "cancelled", id: task.id, attempt: 1, reason: "bulk" }) as const),
          at(50),
        );
        expect(finished).toHaveLength(BULK_TASKS);
        expect(await countByState(store)).toEqual({ CANCELLED: BULK_TASKS });

        const deleted = await loopCount(() => store.deleteFinished({ finishedBefore: at(60) }, BATCH));
        expect(deleted).toEqual([...Array<number>(10).fill(BATCH), 0]);
        expect(await store.countTasks({}, { type: false, queue: false })).toEqual([]);
      },
      BULK_TIMEOUT_MS,
    );

    it(
      "splits the work of two loops running the same action at once: each task changed once",
      async () => {
        const store = await freshStore();
        const all = await bulkTasks(store);
        const twice = async <T extends { id: string }>(call: () => Promise<T[]>) => {
          const [one, two] = await Promise.all([loop(call), loop(call)]);
          expectEachOnce([...one, ...two], all);
        };

        await twice(() => store.cancelWaiting({}, BATCH, at(10)));
        expect(await countByState(store)).toEqual({ CANCELLED: BULK_TASKS });
        await twice(() => store.retryTasks({}, BATCH, at(20)));
        expect(await countByState(store)).toEqual({ QUEUED: BULK_TASKS });
        const retried = await store.getTasks(all.slice(0, 100));
        expect(retried.every((task) => task.transitions.map((t) => t.state).join() === "QUEUED,CANCELLED,QUEUED")).toBe(true);

        await twice(() => store.cancelWaiting({}, BATCH, at(30)));
        const [one, two] = await Promise.all([
          loopCount(() => store.deleteFinished({}, BATCH)),
          loopCount(() => store.deleteFinished({}, BATCH)),
        ]);
        expect([...one, ...two].reduce((sum, n) => sum + n, 0)).toBe(BULK_TASKS);
        expect(await store.countTasks({}, { type: false, queue: false })).toEqual([]);
      },
      BULK_TIMEOUT_MS,
    );
  });

  describe("queueStats", () => {
    const NOW = at(10 * HOUR);
    const ago = (ms: number) => new Date(NOW.getTime() - ms);
    const zeros = {
      scheduled: 0,
      queued: 0,
      running: 0,
      oldestQueuedAt: null,
      succeededLastMinute: 0,
      failedLastMinute: 0,
      succeededLastHour: 0,
      failedLastHour: 0,
    };

    it("gives each queue's waiting, running and recently finished figures", async () => {
      const store = await freshStore();
      const queue = (name: string) => ({ task: { queue: name } });
      await taskIn(store, "QUEUED", { task: { queue: "default", createdAt: ago(5 * MINUTE) } });
      await taskIn(store, "QUEUED", { task: { queue: "default", createdAt: ago(9 * MINUTE) } });
      await taskIn(store, "SCHEDULED", queue("default"));
      await taskIn(store, "RUNNING", queue("default"));
      await taskIn(store, "CANCELLING", queue("default"));
      await taskIn(store, "SUCCEEDED", { finishedAt: ago(30_000), ...queue("default") });
      await taskIn(store, "SUCCEEDED", { finishedAt: ago(MINUTE), ...queue("default") }); // the minute's first instant
      await taskIn(store, "SUCCEEDED", { finishedAt: ago(30 * MINUTE), ...queue("default") });
      await taskIn(store, "FAILED", { finishedAt: ago(10_000), ...queue("default") });
      await taskIn(store, "FAILED", { finishedAt: ago(2 * HOUR), ...queue("default") });
      await taskIn(store, "CANCELLED", { finishedAt: ago(10_000), ...queue("default") });
      await taskIn(store, "SUCCEEDED", { finishedAt: ago(2 * HOUR), ...queue("old") });
      await taskIn(store, "FAILED", { finishedAt: ago(50 * MINUTE), ...queue("recent") });
      await taskIn(store, "CANCELLED", { finishedAt: ago(MINUTE), ...queue("cancelled_only") });
      await taskIn(store, "SCHEDULED", queue("later"));

      const defaultQueue = {
        queue: "default",
        scheduled: 1,
        queued: 2,
        running: 2,
        oldestQueuedAt: ago(9 * MINUTE),
        succeededLastMinute: 2,
        failedLastMinute: 1,
        succeededLastHour: 3,
        failedLastHour: 1,
      };
      expect(await store.queueStats(NOW)).toEqual([
        { ...zeros, queue: "cancelled_only" },
        defaultQueue,
        { ...zeros, queue: "later", scheduled: 1 },
        { ...zeros, queue: "recent", failedLastHour: 1 },
      ]);
      // Exactly the queues asked for, in that order; an unknown one gets zeros.
      expect(await store.queueStats(NOW, ["recent", "nowhere", "default", "old", "recent"])).toEqual([
        { ...zeros, queue: "recent", failedLastHour: 1 },
        { ...zeros, queue: "nowhere" },
        defaultQueue,
        { ...zeros, queue: "old" },
      ]);
      expect(await store.queueStats(NOW, [])).toEqual([]);
      // An hour later, only the waiting and running remain.
      expect(await store.queueStats(new Date(NOW.getTime() + HOUR), ["default"])).toEqual([
        { ...defaultQueue, succeededLastMinute: 0, failedLastMinute: 0, succeededLastHour: 0, failedLastHour: 0 },
      ]);
    });
  });
}
