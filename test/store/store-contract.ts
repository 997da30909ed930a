/**
 * The behaviour every `TaskStore` must have, written against the interface only, so that the
 * PostgreSQL store and the embedded PGlite store run the same suite:
 *
 * ```ts
 * describeStoreContract("PostgreSQL", async () => { ...; return { store, cleanup } });
 * ```
 *
 * The operator views and bulk actions on tasks (`./admin-contract.ts`), the fleet's records
 * (`./fleet-contract.ts`) and schedules and labels (`./schedule-contract.ts`) have suites of
 * their own, registered from here, so every driver runs all of them.
 *
 * What only one driver can show (PostgreSQL: a closed port, two connection pools, statement
 * counts; PGlite: its data directory) stays in that driver's test file, next to its call of
 * this suite. The fixtures (`./fixtures.ts`) are exported again here for those tests.
 */
import { createHash } from "node:crypto";
import { uuidv7 } from "uuidv7";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, UnavailableError } from "../../src/core/errors.js";
import type { BackoffPolicy, TaskRecord, TaskTypeRecord } from "../../src/core/task-types.js";
import type { TaskStore } from "../../src/store/store.js";
import type { NewTaskLogLine } from "../../src/core/task-logs.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { describeAdminContract } from "./admin-contract.js";
import { describeFleetContract } from "./fleet-contract.js";
import { describeScheduleContract } from "./schedule-contract.js";
import { describeOwnershipContract } from "./ownership-contract.js";
import { describeLazyStartsContract } from "./lazy-starts-contract.js";
import { at, attemptError, BACKOFF, insertOne, mustGet, newTask, runningTask, startOnly, T0, worker } from "./fixtures.js";

export { at, attemptError, BACKOFF, insertOne, mustGet, newTask, runningTask, startOnly, T0, worker };

/** What the suite needs from a driver: a fresh, migrated, empty store, and its clean-up. */
export type MakeStore = () => Promise<{ store: TaskStore; cleanup: () => Promise<void> }>;

/** Registers the store contract suite for one driver. */
export function describeStoreContract(name: string, makeStore: MakeStore): void {
  describe(`${name} (store contract)`, () => {
    const cleanups = cleanupsAfterEach();

    /** A migrated store of its own, cleaned up after the test. */
    async function freshStore(): Promise<TaskStore> {
      const made = await makeStore();
      cleanups.push(made.cleanup);
      return made.store;
    }

    describe("migrations", () => {
      it("is a no-op the second time, and keeps the data", async () => {
        const store = await freshStore();
        const task = await insertOne(store);
        await store.migrate();
        await store.migrate();
        expect(await store.getTask(task.id)).toEqual(task);
      });
    });

    describe("insertTasks", () => {
      it("inserts 1,000 tasks in one call, in input order", async () => {
        const store = await freshStore();
        const batch = Array.from({ length: 1000 }, (_, index) =>
          newTask({ priority: index % 7, idempotencyKey: index % 2 === 0 ? `key-${index}` : null }),
        );
        const results = await store.insertTasks(batch);
        expect(results).toHaveLength(1000);
        expect(results.map((result) => result.task.id)).toEqual(batch.map((task) => task.id));
        expect(results.every((result) => !result.existing)).toBe(true);
        expect(await store.getTasks(batch.map((task) => task.id))).toHaveLength(1000);
        expect((await store.listTasks({ limit: 1 })).total).toBe(1000);
      });

      it("records every field as given, with the defaults of a new task", async () => {
        const store = await freshStore();
        const input = new Uint8Array(300).map((_, index) => (index * 7) % 256);
        const given = newTask({
          state: "SCHEDULED",
          queue: "high_priority",
          priority: -1_000_000,
          input,
          timeoutMs: 366 * 24 * 3600 * 1000,
          idempotencyKey: `quote " comma , brace { backslash \\`,
          scheduledAt: at(5000),
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          tracestate: "vendor=a,other=b",
        });
        const [result] = await store.insertTasks([given]);
        const expected: TaskRecord = {
          id: given.id,
          type: given.type,
          queue: "high_priority",
          priority: -1_000_000,
          state: "SCHEDULED",
          inputTypeUrl: given.inputTypeUrl,
          input,
          outputTypeUrl: null,
          output: null,
          errors: [],
          attempt: 0,
          maxAttempts: 3,
          progress: null,
          timeoutMs: 366 * 24 * 3600 * 1000,
          backoff: BACKOFF,
          idempotencyKey: given.idempotencyKey,
          workerId: null,
          createdAt: T0,
          scheduledAt: at(5000),
          startedAt: null,
          finishedAt: null,
          transitions: [{ state: "SCHEDULED", attempt: 0, time: T0.toISOString() }],
          submittedBy: null,
          labels: {},
          traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          tracestate: "vendor=a,other=b",
          parentIds: [],
          childrenCount: 0,
          onParentFailure: "CANCEL",
          context: {},
          concurrencyKey: null,
        };
        expect(result).toEqual({ task: expected, existing: false });
        const read = await mustGet(store, given.id);
        expect(read).toEqual(expected);
        expect(read.input).toBeInstanceOf(Uint8Array);
        expect(Buffer.isBuffer(read.input)).toBe(false);
      });

      it("returns the existing task for a known idempotency key", async () => {
        const store = await freshStore();
        const first = await insertOne(store, { idempotencyKey: "order-42" });
        const again = newTask({ idempotencyKey: "order-42", input: new Uint8Array([9]) });
        const [result] = await store.insertTasks([again]);
        expect(result).toEqual({ task: first, existing: true });
        expect(await store.getTask(again.id)).toBeUndefined();
      });

      it("inserts a key given twice in one batch once", async () => {
        const store = await freshStore();
        const batch = [
          newTask({ idempotencyKey: "k1" }),
          newTask({ idempotencyKey: null }),
          newTask({ idempotencyKey: "k1" }),
          newTask({ idempotencyKey: "k2" }),
        ];
        const results = await store.insertTasks(batch);
        expect(results.map((result) => result.existing)).toEqual([false, false, true, false]);
        expect(results[2]?.task.id).toBe(batch[0]?.id);
        expect((await store.listTasks({ limit: 10 })).total).toBe(3);
      });

      it("lets other errors through as the database reports them", async () => {
        const store = await freshStore();
        const task = newTask();
        await store.insertTasks([task]);
        const error: unknown = await store.insertTasks([{ ...task }]).catch((caught: unknown) => caught);
        expect(error).not.toBeInstanceOf(UnavailableError);
        expect(error).toMatchObject({ code: "23505" });
      });

      it("answers an empty batch without the database", async () => {
        const store = await freshStore();
        expect(await store.insertTasks([])).toEqual([]);
      });
    });

    describe("concurrent calls", () => {
      it("keeps one task when concurrent calls insert the same key", async () => {
        const store = await freshStore();
        for (let round = 0; round < 5; round++) {
          const key = `race-${round}`;
          const [a, b] = await Promise.all([
            store.insertTasks([newTask({ idempotencyKey: key })]),
            store.insertTasks([newTask({ idempotencyKey: key })]),
          ]);
          expect(a[0]?.task.id).toBe(b[0]?.task.id);
          expect([a[0]?.existing, b[0]?.existing].sort()).toEqual([false, true]);
        }
      });

      it("stays consistent under many parallel calls, migrations and cancels among them", async () => {
        const store = await freshStore();
        // 10 batches of 40 tasks, 20 distinct keys per batch: 200 tasks.
        const batches = Array.from({ length: 10 }, (_, batch) =>
          Array.from({ length: 40 }, (_, index) => newTask({ idempotencyKey: `k-${batch}-${index % 20}` })),
        );
        const [inserted] = await Promise.all([
          Promise.all(batches.map((batch) => store.insertTasks(batch))),
          store.migrate(),
          store.listTasks({ limit: 5 }),
          store.migrate(),
        ]);
        const created = inserted.flat().filter((result) => !result.existing).map((result) => result.task);
        expect(created).toHaveLength(200);
        const toRun = created.slice(0, 100);
        const toCancel = created.slice(100);

        // Starts in slices, cancels one by one, reads and a migration, all at once.
        const slices = Array.from({ length: 10 }, (_, slice) => toRun.slice(slice * 10, slice * 10 + 10).map((task) => task.id));
        const [started, cancelled] = await Promise.all([
          Promise.all(slices.map((ids, slice) => startOnly(store, ids, `worker-${slice}`, at(10)))),
          Promise.all(toCancel.map((task) => store.cancelTask(task.id, "parallel", at(10)))),
          Promise.all(toRun.map((task) => store.getTask(task.id))),
          store.migrate(),
          store.countWorkersByType(at(0)),
        ]);
        expect(started.flat().map((task) => task.id).sort()).toEqual(toRun.map((task) => task.id).sort());
        expect(cancelled.every((outcome) => outcome?.kind === "cancelled")).toBe(true);

        const progress = { percent: 50, message: "half", updateTime: at(20).toISOString() };
        const [saved, finished] = await Promise.all([
          Promise.all(toRun.map((task) => store.saveProgress([{ id: task.id, attempt: 1, progress }]))),
          Promise.all(
            toRun.map((task) =>
              store.finishAttempts([{ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([1]) }], at(30)),
            ),
          ),
          // Cancelling what is finishing: either it is still running (CANCELLING) or finished already.
          Promise.all(toRun.slice(0, 10).map((task) => store.cancelTask(task.id, "late", at(25)))),
        ]);
        expect(saved.flat().length).toBeLessThanOrEqual(100);
        expect(finished.flat()).toHaveLength(100);
        expect(finished.flat().every((task) => task.state === "SUCCEEDED")).toBe(true);

        const [succeeded, cancelledNow, unfinished] = await Promise.all([
          store.listTasks({ limit: 1, states: ["SUCCEEDED"] }),
          store.listTasks({ limit: 1, states: ["CANCELLED"] }),
          store.listIndexable(undefined, 1000),
        ]);
        expect(succeeded.total).toBe(100);
        expect(cancelledNow.total).toBe(100);
        expect(unfinished).toEqual([]);
      });
    });

    describe("getTask, getTasks and listTasks", () => {
      it("records who submitted a task and lists one submitter's tasks", async () => {
        const store = await freshStore();
        const alice = [await insertOne(store, { submittedBy: "alice" }), await insertOne(store, { submittedBy: "alice" })];
        const bob = await insertOne(store, { submittedBy: "bob" });
        const anonymous = await insertOne(store);
        expect(alice[0]?.submittedBy).toBe("alice");
        expect((await store.getTask(bob.id))?.submittedBy).toBe("bob");
        expect(anonymous.submittedBy).toBeNull();
        const listed = await store.listTasks({ limit: 100, submittedBy: "alice" });
        expect(listed.tasks.map((task) => task.id)).toEqual(alice.map((task) => task.id).reverse());
        expect(listed.total).toBe(2);
        expect((await store.listTasks({ limit: 100, submittedBy: "carol" })).total).toBe(0);
        expect((await store.listTasks({ limit: 100 })).total).toBe(4);
      });

      it("reads tasks by id, ignoring unknown and malformed ids", async () => {
        const store = await freshStore();
        const a = await insertOne(store);
        const b = await insertOne(store);
        expect(await store.getTask(a.id)).toEqual(a);
        expect(await store.getTask(uuidv7())).toBeUndefined();
        expect(await store.getTask("not-a-uuid")).toBeUndefined();
        const both = await store.getTasks([b.id, uuidv7(), "nope", a.id]);
        expect(both.map((task) => task.id)).toEqual([b.id, a.id]);
      });

      it("lists newest first with filters, pages and the total of the filter", async () => {
        const store = await freshStore();
        const created: TaskRecord[] = [];
        for (let index = 0; index < 12; index++) {
          created.push(
            await insertOne(store, {
              type: index % 2 === 0 ? "even" : "odd",
              queue: index % 3 === 0 ? "high_priority" : "default",
              state: index % 4 === 0 ? "SCHEDULED" : "QUEUED",
            }),
          );
        }
        const newestFirst = [...created].reverse();
        const ids = (tasks: readonly TaskRecord[]) => tasks.map((task) => task.id);

        const all = await store.listTasks({ limit: 100 });
        expect(ids(all.tasks)).toEqual(ids(newestFirst));
        expect(all.total).toBe(12);

        const firstPage = await store.listTasks({ limit: 5 });
        expect(ids(firstPage.tasks)).toEqual(ids(newestFirst.slice(0, 5)));
        expect(firstPage.total).toBe(12);
        const secondPage = await store.listTasks({ limit: 5, beforeId: firstPage.tasks.at(-1)?.id });
        expect(ids(secondPage.tasks)).toEqual(ids(newestFirst.slice(5, 10)));
        expect(secondPage.total).toBe(12);
        const lastPage = await store.listTasks({ limit: 5, beforeId: secondPage.tasks.at(-1)?.id });
        expect(ids(lastPage.tasks)).toEqual(ids(newestFirst.slice(10)));

        const even = await store.listTasks({ limit: 2, type: "even" });
        expect(ids(even.tasks)).toEqual(ids(newestFirst.filter((task) => task.type === "even").slice(0, 2)));
        expect(even.total).toBe(6);

        const high = await store.listTasks({ limit: 100, queue: "high_priority" });
        expect(ids(high.tasks)).toEqual(ids(newestFirst.filter((task) => task.queue === "high_priority")));
        expect(high.total).toBe(4);

        const scheduled = await store.listTasks({ limit: 100, states: ["SCHEDULED"] });
        expect(scheduled.total).toBe(3);
        const combined = await store.listTasks({ limit: 100, states: ["SCHEDULED", "QUEUED"], type: "odd", queue: "default" });
        expect(ids(combined.tasks)).toEqual(
          ids(newestFirst.filter((task) => task.type === "odd" && task.queue === "default")),
        );
        expect(combined.total).toBe(combined.tasks.length);
        expect(await store.listTasks({ limit: 10, states: ["FAILED"] })).toEqual({ tasks: [], total: 0 });
        await expect(store.listTasks({ limit: 10, beforeId: "garbage" })).rejects.toBeInstanceOf(InvalidArgumentError);
      });
    });

    describe("startAttempts", () => {
      it("starts QUEUED tasks only, once", async () => {
        const store = await freshStore();
        const queued = await insertOne(store);
        const scheduled = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(60_000) });
        const cancelled = await insertOne(store);
        await store.cancelTask(cancelled.id, "test", at(1));

        const started = await startOnly(store, [scheduled.id, queued.id, cancelled.id, "bad-id"], "worker-7", at(2));
        expect(started).toHaveLength(1);
        expect(started[0]).toEqual({
          ...queued,
          state: "RUNNING",
          attempt: 1,
          workerId: "worker-7",
          startedAt: at(2),
          transitions: [...queued.transitions, { state: "RUNNING", attempt: 1, time: at(2).toISOString() }],
        });
        expect(await startOnly(store, [queued.id], "worker-8", at(3))).toEqual([]);
        expect((await mustGet(store, queued.id)).workerId).toBe("worker-7");
        expect((await mustGet(store, scheduled.id)).state).toBe("SCHEDULED");
      });

      it("skips tasks of types the worker does not serve and says what the others were", async () => {
        const store = await freshStore();
        const mine = await insertOne(store);
        const foreign = await insertOne(store, { type: "demo.other", priority: 7 });
        const finished = await insertOne(store);
        await store.cancelTask(finished.id, "test", at(1));
        const due = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(5) });
        const missingId = uuidv7();
        const { started, others } = await store.startAttempts(
          [mine.id, foreign.id, finished.id, due.id, missingId],
          "worker-1",
          at(10),
          ["demo.echo"],
        );
        expect(started.map((t) => t.id)).toEqual([mine.id, due.id]);
        expect(others).toEqual([
          { id: foreign.id, state: "QUEUED", priority: 7, type: "demo.other", scheduledAt: foreign.scheduledAt },
          { id: finished.id, state: "CANCELLED", priority: 0, type: "demo.echo", scheduledAt: finished.scheduledAt },
          { id: missingId, state: null, priority: 0, type: "", scheduledAt: null },
        ]);
        expect((await mustGet(store, foreign.id)).state).toBe("QUEUED");
      });

      it("returns the started tasks in the order asked", async () => {
        const store = await freshStore();
        const tasks = (await store.insertTasks([newTask(), newTask(), newTask()])).map((result) => result.task);
        const order = [tasks[2]!.id, tasks[0]!.id, tasks[1]!.id];
        const started = await startOnly(store, order, "worker-1", at(1));
        expect(started.map((task) => task.id)).toEqual(order);
      });
    });

    describe("finishAttempts", () => {
      it("records a success with its output", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const output = new Uint8Array([42, 0, 255]);
        const [finished] = await store.finishAttempts(
          [{ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "type.googleapis.com/x.Out", output }],
          at(100),
        );
        expect(finished).toEqual({
          ...task,
          state: "SUCCEEDED",
          outputTypeUrl: "type.googleapis.com/x.Out",
          output,
          finishedAt: at(100),
          transitions: [...task.transitions, { state: "SUCCEEDED", attempt: 1, time: at(100).toISOString() }],
        });
        expect(await mustGet(store, task.id)).toEqual(finished);
      });

      it("schedules a retryable failure after the back-off, then fails when attempts run out", async () => {
        const store = await freshStore();
        const task = await runningTask(store, { maxAttempts: 2 });
        const first = attemptError(1);
        const [retried] = await store.finishAttempts([{ kind: "failed", id: task.id, attempt: 1, error: first }], at(100));
        expect(retried?.state).toBe("SCHEDULED");
        expect(retried?.errors).toEqual([first]);
        expect(retried?.finishedAt).toBeNull();
        const delay = retried!.scheduledAt.getTime() - at(100).getTime();
        expect(delay).toBeGreaterThanOrEqual(800);
        expect(delay).toBeLessThanOrEqual(1200);
        expect(retried?.transitions.at(-1)).toEqual({ state: "SCHEDULED", attempt: 1, time: at(100).toISOString() });

        expect(await store.markQueued([task.id], retried!.scheduledAt)).toEqual([task.id]);
        const [second] = await startOnly(store, [task.id], "worker-2", at(2000));
        expect(second?.attempt).toBe(2);
        const last = attemptError(2, { workerId: "worker-2" });
        const [failed] = await store.finishAttempts([{ kind: "failed", id: task.id, attempt: 2, error: last }], at(3000));
        expect(failed?.state).toBe("FAILED");
        expect(failed?.errors).toEqual([first, last]);
        expect(failed?.finishedAt).toEqual(at(3000));
        expect(failed?.transitions.map((transition) => `${transition.state}/${transition.attempt}`)).toEqual([
          "QUEUED/0",
          "RUNNING/1",
          "SCHEDULED/1",
          "QUEUED/1",
          "RUNNING/2",
          "FAILED/2",
        ]);
      });

      it("fails at once on a non-retryable error", async () => {
        const store = await freshStore();
        const task = await runningTask(store, { maxAttempts: 5 });
        const error = attemptError(1, { retryable: false, kind: "UNSUPPORTED" });
        const [failed] = await store.finishAttempts([{ kind: "failed", id: task.id, attempt: 1, error }], at(100));
        expect(failed?.state).toBe("FAILED");
        expect(failed?.errors).toEqual([error]);
      });

      it("grows the back-off exponentially up to its maximum, with jitter within bounds", async () => {
        const store = await freshStore();
        const backoff: BackoffPolicy = { initialMs: 1000, maxMs: 5000, multiplier: 3, jitter: 0.5 };
        const expectedBase = [1000, 3000, 5000, 5000];
        const task = await insertOne(store, { maxAttempts: 10, backoff });
        let now = 0;
        for (const [index, base] of expectedBase.entries()) {
          const attempt = index + 1;
          const [started] = await startOnly(store, [task.id], "worker-1", at(now));
          expect(started?.attempt).toBe(attempt);
          const [retried] = await store.finishAttempts(
            [{ kind: "failed", id: task.id, attempt, error: attemptError(attempt) }],
            at(now + 10),
          );
          const delay = retried!.scheduledAt.getTime() - at(now + 10).getTime();
          expect(delay).toBeGreaterThanOrEqual(base * 0.5 - 1);
          expect(delay).toBeLessThanOrEqual(base * 1.5 + 1);
          now = retried!.scheduledAt.getTime() - T0.getTime();
          expect(await store.markQueued([task.id], at(now))).toEqual([task.id]);
        }
      });

      it("uses no jitter when the policy has none, and survives huge multipliers", async () => {
        const store = await freshStore();
        const exact = await runningTask(store, { backoff: { initialMs: 1500, maxMs: 60_000, multiplier: 2, jitter: 0 } });
        const huge = await insertOne(store, {
          maxAttempts: 1000,
          backoff: { initialMs: 1000, maxMs: 7_000, multiplier: 1e300, jitter: 0 },
        });
        const [retried] = await store.finishAttempts(
          [{ kind: "failed", id: exact.id, attempt: 1, error: attemptError(1) }],
          at(0),
        );
        expect(retried?.scheduledAt).toEqual(at(1500));
        // 1000 ms, then 1e303 ms (and 1e603 ms) capped at 7000 ms.
        for (const [attempt, delay] of [[1, 1000], [2, 7000], [3, 7000]] as const) {
          await store.markQueued([huge.id], at(100_000));
          await startOnly(store, [huge.id], "worker-1", at(0));
          const [failed] = await store.finishAttempts(
            [{ kind: "failed", id: huge.id, attempt, error: attemptError(attempt) }],
            at(0),
          );
          expect(failed?.scheduledAt).toEqual(at(delay));
        }
      });

      it("records a cancellation with its reason", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const [cancelled] = await store.finishAttempts(
          [{ kind: "cancelled", id: task.id, attempt: 1, reason: "user asked" }],
          at(50),
        );
        expect(cancelled?.state).toBe("CANCELLED");
        expect(cancelled?.finishedAt).toEqual(at(50));
        expect(cancelled?.errors).toEqual([
          {
            attempt: 1,
            kind: "CANCELLED",
            name: "Cancelled",
            message: "user asked",
            retryable: false,
            workerId: "worker-1",
            time: at(50).toISOString(),
          },
        ]);
      });

      it("puts a released attempt back QUEUED without counting it; a released CANCELLING task ends CANCELLED", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const [released] = await store.finishAttempts([{ kind: "released", id: task.id, attempt: 1, reason: "draining" }], at(20));
        expect(released).toMatchObject({ state: "QUEUED", attempt: 0, errors: [], workerId: null, startedAt: null, finishedAt: null });
        expect(released?.transitions.map((t) => [t.state, t.attempt])).toEqual([
          ["QUEUED", 0],
          ["RUNNING", 1],
          ["QUEUED", 0],
        ]);
        // A late report of the released attempt changes nothing; the next start is attempt 1 again.
        expect(await store.finishAttempts([{ kind: "released", id: task.id, attempt: 1, reason: "again" }], at(21))).toEqual([]);
        const [again] = await startOnly(store, [task.id], "worker-2", at(30));
        expect({ attempt: again?.attempt, workerId: again?.workerId }).toEqual({ attempt: 1, workerId: "worker-2" });
        const cancelling = await runningTask(store);
        await store.cancelTask(cancelling.id, "stop", at(50));
        const [cancelled] = await store.finishAttempts([{ kind: "released", id: cancelling.id, attempt: 1, reason: "cancelled before it started" }], at(60));
        expect(cancelled).toMatchObject({ state: "CANCELLED", attempt: 1, finishedAt: at(60) });
        expect(cancelled?.errors).toMatchObject([{ attempt: 1, kind: "CANCELLED", message: "cancelled before it started" }]);
      });

      it("ends a CANCELLING task CANCELLED on a failure, SUCCEEDED on a success", async () => {
        const store = await freshStore();
        const failing = await runningTask(store);
        const succeeding = await runningTask(store);
        await store.cancelTask(failing.id, "stop", at(5));
        await store.cancelTask(succeeding.id, "stop", at(5));
        const error = attemptError(1);
        const finished = await store.finishAttempts(
          [
            { kind: "failed", id: failing.id, attempt: 1, error },
            { kind: "succeeded", id: succeeding.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([1]) },
          ],
          at(10),
        );
        const byId = new Map(finished.map((task) => [task.id, task]));
        expect(byId.get(failing.id)?.state).toBe("CANCELLED");
        expect(byId.get(failing.id)?.errors).toEqual([error]);
        expect(byId.get(failing.id)?.finishedAt).toEqual(at(10));
        expect(byId.get(succeeding.id)?.state).toBe("SUCCEEDED");
      });

      it("ignores stale, duplicate and late reports", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const success = { kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([7]) } as const;

        // Another attempt than the current one.
        expect(
          await store.finishAttempts(
            [
              { ...success, attempt: 2 },
              { kind: "failed", id: task.id, attempt: 0, error: attemptError(0) },
            ],
            at(10),
          ),
        ).toEqual([]);
        expect((await mustGet(store, task.id)).state).toBe("RUNNING");

        // Twice in one batch: applied once.
        const once = await store.finishAttempts([success, success], at(20));
        expect(once).toHaveLength(1);
        // Again later: ignored, nothing overwritten.
        const failure = { kind: "failed", id: task.id, attempt: 1, error: attemptError(1) } as const;
        expect(await store.finishAttempts([success, failure], at(30))).toEqual([]);
        expect(await mustGet(store, task.id)).toEqual(once[0]);

        // A task that is not running (cancelled while queued), or unknown.
        const queued = await insertOne(store);
        await store.cancelTask(queued.id, "no", at(40));
        const late = await store.finishAttempts(
          [
            { kind: "failed", id: queued.id, attempt: 0, error: attemptError(0) },
            { ...success, id: uuidv7() },
            { ...success, id: "not-a-uuid" },
          ],
          at(50),
        );
        expect(late).toEqual([]);
        expect((await mustGet(store, queued.id)).errors).toEqual([]);
      });

      it("applies a mixed batch of outcomes in one call", async () => {
        const store = await freshStore();
        const tasks = await Promise.all(Array.from({ length: 50 }, () => runningTask(store)));
        const outcomes = tasks.map((task, index) =>
          index % 2 === 0
            ? ({ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([index]) } as const)
            : ({ kind: "failed", id: task.id, attempt: 1, error: attemptError(1, { retryable: false }) } as const),
        );
        const finished = await store.finishAttempts(outcomes, at(100));
        expect(finished.map((task) => task.id)).toEqual(tasks.map((task) => task.id));
        const byId = new Map(finished.map((task) => [task.id, task]));
        for (const [index, task] of tasks.entries()) {
          const after = byId.get(task.id);
          expect(after?.state).toBe(index % 2 === 0 ? "SUCCEEDED" : "FAILED");
          if (index % 2 === 0) expect(after?.output).toEqual(new Uint8Array([index]));
        }
      });
    });

    describe("saveProgress", () => {
      it("saves the last progress of the current attempt only", async () => {
        const store = await freshStore();
        const running = await runningTask(store);
        const queued = await insertOne(store);
        const progress = (percent: number) => ({ percent, message: `${percent}%`, updateTime: at(percent).toISOString() });
        const updated = await store.saveProgress([
          { id: running.id, attempt: 1, progress: progress(10) },
          { id: running.id, attempt: 1, progress: { ...progress(20), current: 2, total: 10, details: { step: "b" } } },
          { id: running.id, attempt: 2, progress: progress(99) },
          { id: queued.id, attempt: 0, progress: progress(50) },
          { id: "bad", attempt: 1, progress: progress(50) },
        ]);
        expect(updated).toEqual([running.id]);
        const read = await mustGet(store, running.id);
        expect(read.progress).toEqual({ ...progress(20), current: 2, total: 10, details: { step: "b" } });
        expect(read.transitions).toEqual(running.transitions);
        expect((await mustGet(store, queued.id)).progress).toBeNull();
        expect(await store.saveProgress([])).toEqual([]);
      });

      it("keeps progress on a CANCELLING task and ignores it once finished", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        await store.cancelTask(task.id, "stop", at(5));
        const progress = { percent: 30, message: "", updateTime: at(6).toISOString() };
        expect(await store.saveProgress([{ id: task.id, attempt: 1, progress }])).toEqual([task.id]);
        await store.finishAttempts([{ kind: "cancelled", id: task.id, attempt: 1, reason: "stop" }], at(7));
        expect(await store.saveProgress([{ id: task.id, attempt: 1, progress: { ...progress, percent: 90 } }])).toEqual([]);
        expect((await mustGet(store, task.id)).progress).toEqual(progress);
      });
    });

    describe("task context (saveProgress)", () => {
      it("saves a context with or without progress, keeps each when the other comes alone, and hands it to the next attempt", async () => {
        const store = await freshStore();
        const running = await runningTask(store);
        const progress = { percent: 40, message: "half", updateTime: at(4).toISOString() };
        expect(await store.saveProgress([{ id: running.id, attempt: 1, progress, context: { step: 1 } }])).toEqual([running.id]);
        expect(await store.saveProgress([{ id: running.id, attempt: 1, context: { step: 2, nested: { ok: true } } }])).toEqual([running.id]);
        expect(await store.saveProgress([{ id: running.id, attempt: 1, progress: { ...progress, percent: 50 } }])).toEqual([running.id]);
        // In one batch, the last progress and the last context of the attempt win, even from different updates.
        await store.saveProgress([
          { id: running.id, attempt: 1, context: { step: 3 } },
          { id: running.id, attempt: 1, progress: { ...progress, percent: 60 } },
          { id: running.id, attempt: 2, context: { step: 99 } },
        ]);
        const read = await mustGet(store, running.id);
        expect(read.progress?.percent).toBe(60);
        expect(read.context).toEqual({ step: 3 });
        // A retry starts from it; a finished task's context no longer moves.
        const [retried] = await store.finishAttempts([{ kind: "failed", id: running.id, attempt: 1, error: attemptError(1) }], at(10));
        expect(retried?.context).toEqual({ step: 3 });
        expect(await store.saveProgress([{ id: running.id, attempt: 1, context: { step: 4 } }])).toEqual([]);
        expect((await mustGet(store, running.id)).context).toEqual({ step: 3 });
        expect(await store.saveProgress([{ id: running.id, attempt: 1 }])).toEqual([]);
      });
    });

    describe("task logs", () => {
      const line = (taskId: string, i: number, extra: Partial<NewTaskLogLine> = {}): NewTaskLogLine => ({
        taskId,
        attempt: 1,
        level: "info",
        message: `line ${i}`,
        time: at(i),
        ...extra,
      });
      const BOUNDS = { maxLines: 1000, maxBytes: 1_000_000 };

      it("stores lines in order with their fields and time, and reads them after a cursor, by attempt and level", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const other = await runningTask(store);
        const appended = await store.appendLogs(
          [
            line(task.id, 1, { fields: { user: "ada", n: 2, nested: { ok: true } } }),
            line(other.id, 2),
            line(task.id, 3, { level: "warn" }),
            line(task.id, 4, { attempt: 2, level: "error", message: "quote ' and text ✓" }),
            line("not-a-uuid", 5),
            line("0190b6b4-0000-7000-8000-000000000000", 6),
          ],
          BOUNDS,
        );
        expect(appended.stored.map((stored) => [stored.taskId, stored.message])).toEqual([
          [task.id, "line 1"],
          [other.id, "line 2"],
          [task.id, "line 3"],
          [task.id, "quote ' and text ✓"],
        ]);
        expect(appended.dropped.size).toBe(0);
        const page = await store.readLogs({ taskId: task.id, afterSequence: 0n, limit: 10 });
        expect(page?.storedCount).toBe(3);
        expect(page?.droppedCount).toBe(0);
        expect(page?.lines.map(({ sequence: _, ...rest }) => rest)).toEqual([
          line(task.id, 1, { fields: { user: "ada", n: 2, nested: { ok: true } } }),
          line(task.id, 3, { level: "warn" }),
          line(task.id, 4, { attempt: 2, level: "error", message: "quote ' and text ✓" }),
        ]);
        const [first, second] = page?.lines ?? [];
        expect(first!.sequence < second!.sequence).toBe(true);
        const after = await store.readLogs({ taskId: task.id, afterSequence: first!.sequence, limit: 1 });
        expect(after?.lines.map((l) => l.message)).toEqual(["line 3"]);
        expect((await store.readLogs({ taskId: task.id, afterSequence: 0n, limit: 10, attempt: 2 }))?.lines.map((l) => l.message)).toEqual([
          "quote ' and text ✓",
        ]);
        expect((await store.readLogs({ taskId: task.id, afterSequence: 0n, limit: 10, levels: ["warn", "error"] }))?.lines).toHaveLength(2);
        expect(await store.readLogs({ taskId: "0190b6b4-0000-7000-8000-000000000000", afterSequence: 0n, limit: 10 })).toBeUndefined();
        expect(await store.readLogs({ taskId: "bad", afterSequence: 0n, limit: 10 })).toBeUndefined();
        expect(await store.appendLogs([], BOUNDS)).toEqual({ stored: [], dropped: new Map() });
      });

      it("keeps a task within its line and byte bounds, counting what it dropped", async () => {
        const store = await freshStore();
        const byLines = await runningTask(store);
        const byBytes = await runningTask(store);
        const bounds = { maxLines: 3, maxBytes: 20 };
        const first = await store.appendLogs([line(byLines.id, 1), line(byLines.id, 2), line(byBytes.id, 3, { message: "0123456789" })], bounds);
        expect(first.stored).toHaveLength(3);
        // "line N" is 6 bytes: the byte bound takes one more; the line bound two more, of which one fits.
        const second = await store.appendLogs(
          [line(byLines.id, 4), line(byLines.id, 5), line(byBytes.id, 6, { message: "01234567" }), line(byBytes.id, 7, { message: "0123" }), line(byLines.id, 8)],
          bounds,
        );
        expect(second.stored.map((stored) => stored.message)).toEqual(["line 4", "01234567"]);
        expect(second.dropped).toEqual(new Map([[byLines.id, 2], [byBytes.id, 1]]));
        const lines = await store.readLogs({ taskId: byLines.id, afterSequence: 0n, limit: 10 });
        expect(lines).toMatchObject({ storedCount: 3, droppedCount: 2 });
        expect(lines?.lines.map((l) => l.message)).toEqual(["line 1", "line 2", "line 4"]);
        const bytes = await store.readLogs({ taskId: byBytes.id, afterSequence: 0n, limit: 10 });
        expect(bytes).toMatchObject({ storedCount: 2, droppedCount: 1 });
      });

      it("deletes a task's lines with it", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        await store.appendLogs([line(task.id, 1), line(task.id, 2)], BOUNDS);
        await store.finishAttempts([{ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array() }], at(10));
        expect(await store.deleteFinished({ ids: [task.id] }, 10)).toBe(1);
        expect(await store.readLogs({ taskId: task.id, afterSequence: 0n, limit: 10 })).toBeUndefined();
        // A task inserted again with the same id has no lines: none outlived the first.
        await store.insertTasks([newTask({ id: task.id })]);
        expect((await store.readLogs({ taskId: task.id, afterSequence: 0n, limit: 10 }))?.lines).toEqual([]);
        // Lines for a task that is gone are not stored.
        expect((await store.appendLogs([line("0190b6b4-0000-7000-8000-000000000001", 1)], BOUNDS)).stored).toEqual([]);
      });
    });

    describe("markQueued", () => {
      it("queues the SCHEDULED tasks that are due", async () => {
        const store = await freshStore();
        const due = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(1000) });
        const later = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(5000) });
        const queued = await insertOne(store);
        const cancelled = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(0) });
        await store.cancelTask(cancelled.id, "no", at(1));

        const changed = await store.markQueued([due.id, later.id, queued.id, cancelled.id, "bad"], at(1000));
        expect(changed).toEqual([due.id]);
        const read = await mustGet(store, due.id);
        expect(read.state).toBe("QUEUED");
        expect(read.transitions.at(-1)).toEqual({ state: "QUEUED", attempt: 0, time: at(1000).toISOString() });
        expect((await mustGet(store, later.id)).state).toBe("SCHEDULED");
        expect((await mustGet(store, cancelled.id)).state).toBe("CANCELLED");
        expect(await store.markQueued([later.id], at(5000))).toEqual([later.id]);
      });
    });

    describe("cancelTask", () => {
      it("cancels queued and scheduled tasks at once", async () => {
        const store = await freshStore();
        for (const state of ["QUEUED", "SCHEDULED"] as const) {
          const task = await insertOne(store, { state });
          const outcome = await store.cancelTask(task.id, "user", at(10));
          expect(outcome?.kind).toBe("cancelled");
          expect(outcome?.task).toEqual({
            ...task,
            state: "CANCELLED",
            finishedAt: at(10),
            transitions: [...task.transitions, { state: "CANCELLED", attempt: 0, time: at(10).toISOString() }],
          });
        }
      });

      it("asks a running task to stop, and says so again while it stops", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const first = await store.cancelTask(task.id, "user", at(10));
        expect(first?.kind).toBe("cancelling");
        expect(first?.task.state).toBe("CANCELLING");
        expect(first?.task.finishedAt).toBeNull();
        expect(first?.task.transitions.at(-1)).toEqual({ state: "CANCELLING", attempt: 1, time: at(10).toISOString() });
        const second = await store.cancelTask(task.id, "user", at(20));
        expect(second).toEqual({ kind: "cancelling", task: first?.task });
      });

      it("refuses finished tasks unchanged, and knows nothing of unknown ones", async () => {
        const store = await freshStore();
        const task = await runningTask(store);
        const [done] = await store.finishAttempts(
          [{ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array() }],
          at(5),
        );
        expect(await store.cancelTask(task.id, "late", at(10))).toEqual({ kind: "finished", task: done });
        const cancelled = await insertOne(store);
        const outcome = await store.cancelTask(cancelled.id, "user", at(10));
        expect(await store.cancelTask(cancelled.id, "again", at(20))).toEqual({ kind: "finished", task: outcome?.task });
        expect(await store.cancelTask(uuidv7(), "who", at(10))).toBeUndefined();
        expect(await store.cancelTask("nope", "who", at(10))).toBeUndefined();
      });
    });

    describe("dispatch limits", () => {
      it("merges the fields given into a type's or queue's limits, lists them, and clears them", async () => {
        const store = await freshStore();
        expect(await store.listDispatchLimits()).toEqual([]);
        const first = await store.setDispatchLimit("type", "mirror", { concurrency: 5, keyRate: { count: 10, intervalMs: 1000 } }, at(1));
        expect(first).toEqual({ scope: "type", name: "mirror", concurrency: 5, perKey: null, rate: null, keyRate: { count: 10, intervalMs: 1000 }, updatedAt: at(1) });
        const second = await store.setDispatchLimit("type", "mirror", { perKey: 2, keyRate: { count: 0, intervalMs: 0 } }, at(2));
        expect(second).toMatchObject({ concurrency: 5, perKey: 2, keyRate: { count: 0, intervalMs: 0 }, updatedAt: at(2) });
        await store.setDispatchLimit("queue", "email", { rate: { count: 3, intervalMs: 60_000 } }, at(3));
        await store.setDispatchLimit("queue", "alpha", { concurrency: 1 }, at(3));
        expect((await store.listDispatchLimits()).map((l) => `${l.scope}:${l.name}`)).toEqual(["type:mirror", "queue:alpha", "queue:email"]);
        expect(await store.clearDispatchLimit("type", "mirror")).toBe(true);
        expect(await store.clearDispatchLimit("type", "mirror")).toBe(false);
        expect((await store.listDispatchLimits()).map((l) => l.name)).toEqual(["alpha", "email"]);
      });

      it("keeps a task's concurrency key", async () => {
        const store = await freshStore();
        const [result] = await store.insertTasks([newTask({ concurrencyKey: "tenant-1" })]);
        expect(result?.task.concurrencyKey).toBe("tenant-1");
        expect((await mustGet(store, result?.task.id ?? "")).concurrencyKey).toBe("tenant-1");
        expect((await store.listIndexable(undefined, 10)).find((t) => t.id === result?.task.id)?.concurrencyKey).toBe("tenant-1");
      });
    });

    describe("listIndexable", () => {
      it("pages through the unfinished tasks, oldest first", async () => {
        const store = await freshStore();
        const queued = await insertOne(store);
        const done = await runningTask(store);
        await store.finishAttempts(
          [{ kind: "succeeded", id: done.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array() }],
          at(5),
        );
        const scheduled = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(100_000) });
        const running = await runningTask(store);
        const cancelledTask = await insertOne(store);
        await store.cancelTask(cancelledTask.id, "no", at(5));
        const cancelling = await runningTask(store);
        await store.cancelTask(cancelling.id, "stop", at(6));
        const queuedAgain = await insertOne(store);

        const seen: string[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await store.listIndexable(afterId, 2);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(2);
          seen.push(...page.map((task) => task.id));
          afterId = page.at(-1)?.id;
        }
        expect(seen).toEqual([queued.id, scheduled.id, running.id, cancelling.id, queuedAgain.id]);
        // Only what the index needs: where, in which order, and who holds a running attempt.
        const entries = await store.listIndexable(undefined, 10);
        expect(entries.find((entry) => entry.id === running.id)).toEqual({
          id: running.id,
          type: running.type,
          queue: running.queue,
          priority: running.priority,
          state: "RUNNING",
          scheduledAt: running.scheduledAt,
          attempt: 1,
          workerId: "worker-1",
          concurrencyKey: null,
        });
      });

      it("reads one window of ids when given beforeId as well", async () => {
        const store = await freshStore();
        const tasks = (await store.insertTasks(Array.from({ length: 6 }, () => newTask()))).map((result) => result.task);
        const [t0, t1, t2, t3, t4, t5] = tasks.map((task) => task.id);
        await store.cancelTask(t2!, "no", at(1));
        const ids = async (afterId: string | undefined, limit: number, beforeId?: string) =>
          (await store.listIndexable(afterId, limit, beforeId)).map((task) => task.id);
        expect(await ids(t0, 10, t4)).toEqual([t1, t3]);
        expect(await ids(undefined, 10, t3)).toEqual([t0, t1]);
        expect(await ids(t0, 1, t5)).toEqual([t1]);
        expect(await ids(t3, 10, t4)).toEqual([]);
        expect(await ids(t4, 10)).toEqual([t5]);
        await expect(store.listIndexable(undefined, 10, "nope")).rejects.toThrow(/beforeId/);
      });
    });

    describe("task types", () => {
      const type = (name: string, overrides: Partial<TaskTypeRecord> = {}): Omit<TaskTypeRecord, "updatedAt"> => {
        const descriptors = overrides.descriptors ?? new Uint8Array([10, 20, 30]);
        return {
          name,
          inputType: "google.protobuf.Struct",
          outputType: "google.protobuf.Struct",
          description: `${name} things`,
          defaults: { queue: null, priority: 0, timeoutMs: null, maxAttempts: 3, backoff: BACKOFF },
          descriptors,
          descriptorSet: sha256(descriptors),
          ...overrides,
        };
      };

      it("adds, replaces and lists catalog entries", async () => {
        const store = await freshStore();
        await store.upsertTaskTypes([type("b.report"), type("a.mirror")], at(1));
        expect(await store.getTaskType("a.mirror")).toEqual({ ...type("a.mirror"), updatedAt: at(1) });
        expect(await store.getTaskType("missing")).toBeUndefined();

        const changed = type("b.report", {
          outputType: "x.Report",
          defaults: { queue: "reports", priority: 7, timeoutMs: 1000, maxAttempts: 1, backoff: BACKOFF },
          descriptors: new Uint8Array([1]),
        });
        await store.upsertTaskTypes([type("b.report", { description: "first" }), changed], at(2));
        expect((await store.listTaskTypes()).map((entry) => entry.name)).toEqual(["a.mirror", "b.report"]);
        expect(await store.getTaskType("b.report")).toEqual({ ...changed, updatedAt: at(2) });
        await store.upsertTaskTypes([], at(3));
      });

      it("stores one descriptor set for the types that share it; listings carry its hash, not its bytes", async () => {
        const store = await freshStore();
        const shared = new Uint8Array(64 * 1024).fill(7);
        const other = new Uint8Array([1, 2, 3]);
        await store.upsertTaskTypes([type("s.one", { descriptors: shared }), type("s.two", { descriptors: shared }), type("s.three", { descriptors: other })], at(1));
        const listed = await store.listTaskTypes();
        expect(listed.map((entry) => [entry.name, entry.descriptorSet])).toEqual([
          ["s.one", sha256(shared)],
          ["s.three", sha256(other)],
          ["s.two", sha256(shared)],
        ]);
        expect(listed.every((entry) => !("descriptors" in entry))).toBe(true);
        const sets = await store.getDescriptorSets([sha256(shared), sha256(other), sha256(shared), "0".repeat(64)]);
        expect([...sets.keys()].sort()).toEqual([sha256(shared), sha256(other)].sort());
        expect(sets.get(sha256(shared))).toEqual(shared);
        expect((await store.getTaskType("s.two"))?.descriptors).toEqual(shared);
        expect(await store.getDescriptorSets([])).toEqual(new Map());
        // A redeclaration with another set points the type at it; the first set stays for the others.
        await store.upsertTaskTypes([type("s.one", { descriptors: other })], at(2));
        expect(await store.getTaskType("s.one")).toMatchObject({ descriptorSet: sha256(other), descriptors: other });
        expect((await store.getTaskType("s.two"))?.descriptors).toEqual(shared);
      });
    });

    describe("workers", () => {
      it("counts connected workers per type, as heartbeats and disconnections come", async () => {
        const store = await freshStore();
        await store.upsertWorker(worker("w1"));
        await store.upsertWorker(worker("w2", { types: ["demo.echo"] }));
        await store.upsertWorker(worker("w,3 \"odd\"", { types: ["demo.sleep"] }));
        expect(await store.countWorkersByType(at(0))).toEqual(new Map([["demo.echo", 2], ["demo.sleep", 2]]));

        await store.touchWorkers(["w1", "w,3 \"odd\""], at(10_000));
        expect(await store.countWorkersByType(at(5000))).toEqual(new Map([["demo.echo", 1], ["demo.sleep", 2]]));

        // Another session's close does not touch the current one.
        await store.markWorkerDisconnected("w1", "old-session", at(11_000));
        expect((await store.countWorkersByType(at(5000))).get("demo.echo")).toBe(1);
        await store.markWorkerDisconnected("w1", "session-1", at(11_000));
        expect(await store.countWorkersByType(at(5000))).toEqual(new Map([["demo.sleep", 1]]));

        // Reconnecting replaces the record.
        await store.upsertWorker(worker("w1", { sessionId: "session-2", types: ["demo.other"], lastSeenAt: at(12_000) }));
        expect(await store.countWorkersByType(at(5000))).toEqual(new Map([["demo.other", 1], ["demo.sleep", 1]]));
        await store.touchWorkers([], at(13_000));
      });
    });

    describe("operator views and bulk actions", () => {
      describeAdminContract(freshStore);
    });

    describe("fleet", () => {
      describeFleetContract(freshStore);
    });

    describe("schedules and labels", () => {
      describeScheduleContract(freshStore);
    });

    describe("owners of task types and worker ids", () => {
      describeOwnershipContract(freshStore);
    });

    describe("attempts started in the claim, written later (issue 16)", () => {
      describeLazyStartsContract(freshStore);
    });

    describe("availability", () => {
      it("pings, closes twice, and is unavailable once closed", async () => {
        const store = await freshStore();
        await store.ping();
        await store.close();
        await store.close();
        for (const call of [() => store.ping(), () => store.getTask(uuidv7()), () => store.insertTasks([newTask()])]) {
          const error: unknown = await call().catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(UnavailableError);
          expect(error).toMatchObject({ reason: "STORE_UNAVAILABLE" });
        }
      });

      it("keeps two stores apart", async () => {
        const one = await freshStore();
        const two = await freshStore();
        const task = await insertOne(one);
        expect(await two.getTask(task.id)).toBeUndefined();
        expect((await two.listTasks({ limit: 10 })).total).toBe(0);
      });
    });
  });
}

/** The hex SHA-256 of a descriptor set, its id in the store. */
function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
