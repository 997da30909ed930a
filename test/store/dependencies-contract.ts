/**
 * The store's side of task dependencies (`src/store/queries/dependencies.ts`), on every driver:
 * a dependent submission locks, checks and counts its parents; an outcome releases or cancels
 * the children in its transaction, transitively; WAITING tasks are never listed for the
 * dispatch index and released ones are; two outcomes racing on one child release it once.
 */
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../src/core/errors.js";
import type { DependsOn, NewTask, TaskRecord } from "../../src/core/task-types.js";
import type { TaskStore } from "../../src/store/store.js";
import { at, attemptError, insertOne, mustGet, newTask, startOnly } from "./fixtures.js";

/** What the suite needs from a driver. */
export type MakeStore = () => Promise<{ store: TaskStore; cleanup: () => Promise<void> }>;

function on(taskIds: string[], items: number[] = [], extra: Partial<DependsOn> = {}): DependsOn {
  return { taskIds, items, onParentFailure: "CANCEL", ...extra };
}

async function started(store: TaskStore, task: TaskRecord): Promise<TaskRecord> {
  const [running] = await startOnly(store, [task.id], "worker-1", at(1));
  if (!running) throw new Error(`task ${task.id} did not start`);
  return running;
}

async function succeed(store: TaskStore, task: TaskRecord): Promise<TaskRecord[]> {
  const running = await started(store, task);
  return store.finishAttempts([{ kind: "succeeded", id: running.id, attempt: running.attempt, outputTypeUrl: "type.googleapis.com/google.protobuf.Struct", output: new Uint8Array([7]) }], at(2));
}

async function fail(store: TaskStore, task: TaskRecord): Promise<TaskRecord[]> {
  const running = await started(store, task);
  return store.finishAttempts([{ kind: "failed", id: running.id, attempt: running.attempt, error: attemptError(running.attempt, { retryable: false }) }], at(2));
}

async function insert(store: TaskStore, tasks: NewTask[]): Promise<TaskRecord[]> {
  return (await store.insertTasks(tasks)).map((r) => r.task);
}

/** Registers the dependencies suite for one driver. */
export function describeDependenciesContract(name: string, makeStore: MakeStore): void {
  describe(`${name} (dependencies)`, () => {
    // One store for the file (a PGlite open is slow): every test works on tasks of its own.
    let made: Awaited<ReturnType<MakeStore>> | undefined;
    beforeAll(async () => {
      made = await makeStore();
    }, 60_000);
    afterAll(async () => {
      await made?.cleanup();
    });
    async function freshStore(): Promise<TaskStore> {
      if (!made) throw new Error("no store");
      return made.store;
    }
    /** Of `ids`, those `listIndexable` lists for the dispatch index. */
    async function indexable(store: TaskStore, ids: readonly string[]): Promise<string[]> {
      const listed = new Set((await store.listIndexable(undefined, 10_000)).map((t) => t.id));
      return ids.filter((id) => listed.has(id));
    }

    it("makes a task with an unfinished parent WAITING, counts the parent's children, and keeps WAITING tasks out of the index's list", async () => {
      const store = await freshStore();
      const parent = await insertOne(store);
      const [child] = await insert(store, [newTask({ dependsOn: on([parent.id]) })]);
      expect(child).toMatchObject({ state: "WAITING", parentIds: [parent.id], onParentFailure: "CANCEL" });
      expect((await mustGet(store, parent.id)).childrenCount).toBe(1);
      expect((await mustGet(store, child!.id)).state).toBe("WAITING");
      expect(await indexable(store, [parent.id, child!.id])).toEqual([parent.id]);
      expect((await store.listTasks({ parentId: parent.id, limit: 10 })).tasks.map((t) => t.id)).toEqual([child!.id]);

      // The parent's success releases the child in its transaction; the index's list finds it.
      const changed = await succeed(store, parent);
      expect(changed.map((t) => [t.id, t.state])).toEqual([
        [parent.id, "SUCCEEDED"],
        [child!.id, "QUEUED"],
      ]);
      expect(await indexable(store, [parent.id, child!.id])).toEqual([child!.id]);
      const released = await mustGet(store, child!.id);
      expect(released.transitions.map((t) => t.state)).toEqual(["WAITING", "QUEUED"]);
    });

    it("resolves a batch in order: a graph, a parent finished already, a parent failed already", async () => {
      const store = await freshStore();
      const done = await insertOne(store);
      await succeed(store, done);
      const failed = await insertOne(store);
      await fail(store, failed);
      const [a, b, c, d] = await insert(store, [
        newTask({ dependsOn: on([done.id]) }),
        newTask({ dependsOn: on([], [0]) }),
        newTask({ dependsOn: on([failed.id]) }),
        newTask({ dependsOn: on([], [2], { onParentFailure: "RUN" }), scheduledAt: at(3_600_000), state: "SCHEDULED" }),
      ]);
      expect(a).toMatchObject({ state: "QUEUED", childrenCount: 1 });
      expect(b).toMatchObject({ state: "WAITING", parentIds: [a!.id] });
      expect(c).toMatchObject({ state: "CANCELLED", childrenCount: 1 });
      expect(c!.errors[0]).toMatchObject({ name: "ParentFailed", message: `parent task ${failed.id} failed` });
      expect(d).toMatchObject({ state: "SCHEDULED", onParentFailure: "RUN" });
      expect(await mustGet(store, c!.id)).toMatchObject({ state: "CANCELLED", finishedAt: c!.createdAt });
    });

    it("refuses an unknown parent, or one outside the key's scope, with nothing stored", async () => {
      const store = await freshStore();
      const theirs = await insertOne(store, { submittedBy: "bob" });
      const missing = uuidv7();
      const first = newTask();
      await expect(store.insertTasks([first, newTask({ dependsOn: on([missing]) })])).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.insertTasks([newTask({ dependsOn: on([theirs.id], [], { ownerScope: "alice" }) })])).rejects.toThrow(`task ${theirs.id} does not exist`);
      expect(await store.getTask(first.id)).toBeUndefined();
      expect((await mustGet(store, theirs.id)).childrenCount).toBe(0);
      const [mine] = await insert(store, [newTask({ submittedBy: "bob", dependsOn: on([theirs.id], [], { ownerScope: "bob" }) })]);
      expect(mine?.state).toBe("WAITING");
    });

    it("cancels down the graph on a failure, with reasons naming the parent, and runs a RUN child", async () => {
      const store = await freshStore();
      const root = await insertOne(store);
      const [b, c, d] = await insert(store, [
        newTask({ dependsOn: on([root.id]) }),
        newTask({ dependsOn: on([], [0]) }),
        newTask({ dependsOn: on([root.id], [1], { onParentFailure: "RUN" }) }),
      ]);
      const changed = await fail(store, root);
      const states = Object.fromEntries(changed.map((t) => [t.id, t.state]));
      expect(states).toEqual({ [root.id]: "FAILED", [b!.id]: "CANCELLED", [c!.id]: "CANCELLED", [d!.id]: "QUEUED" });
      expect((await mustGet(store, c!.id)).errors.at(-1)?.message).toBe(`parent task ${b!.id} was cancelled`);
    });

    it("cascades a cancel of a waiting or queued parent in its transaction", async () => {
      const store = await freshStore();
      const root = await insertOne(store);
      const [b, c] = await insert(store, [newTask({ dependsOn: on([root.id]) }), newTask({ dependsOn: on([], [0]) })]);
      const outcome = await store.cancelTask(root.id, "no", at(5));
      expect(outcome?.kind).toBe("cancelled");
      expect(outcome?.kind === "cancelled" && outcome.children.map((t) => [t.id, t.state])).toEqual([
        [b!.id, "CANCELLED"],
        [c!.id, "CANCELLED"],
      ]);
      // A bulk cancel of a WAITING task cascades too.
      const other = await insertOne(store);
      const [w, x] = await insert(store, [newTask({ dependsOn: on([other.id]) }), newTask({ dependsOn: on([], [0]) })]);
      const cancelled = await store.cancelWaiting({ ids: [w!.id] }, 10, at(6));
      expect(cancelled.map((t) => [t.id, t.state])).toEqual([
        [w!.id, "CANCELLED"],
        [x!.id, "CANCELLED"],
      ]);
    });

    it("releases a child of two parents once, when both finish at the same time", async () => {
      const store = await freshStore();
      for (let round = 0; round < 5; round++) {
        const p1 = await insertOne(store);
        const p2 = await insertOne(store);
        const [child] = await insert(store, [newTask({ dependsOn: on([p1.id, p2.id]) })]);
        const [r1, r2] = await Promise.all([started(store, p1), started(store, p2)]);
        const ok = (t: TaskRecord) => ({ kind: "succeeded" as const, id: t.id, attempt: t.attempt, outputTypeUrl: "type.googleapis.com/google.protobuf.Struct", output: new Uint8Array() });
        const [a, b] = await Promise.all([store.finishAttempts([ok(r1)], at(3)), store.finishAttempts([ok(r2)], at(3))]);
        const releases = [...a, ...b].filter((t) => t.id === child!.id);
        expect(releases.map((t) => t.state)).toEqual(["QUEUED"]);
        expect((await mustGet(store, child!.id)).transitions.map((t) => t.state)).toEqual(["WAITING", "QUEUED"]);
      }
    });

    it("makes an item that names an existing task (by its idempotency key) depend on that task", async () => {
      const store = await freshStore();
      const key = `order-${uuidv7()}`;
      const [first] = await insert(store, [newTask({ idempotencyKey: key })]);
      const results = await store.insertTasks([newTask({ idempotencyKey: key }), newTask({ dependsOn: on([], [0]) }), newTask({ idempotencyKey: key, dependsOn: on([], [1]) })]);
      expect(results.map((r) => r.existing)).toEqual([true, false, true]);
      const child = results[1]!.task;
      expect(child).toMatchObject({ state: "WAITING", parentIds: [first!.id], childrenCount: 0 });
      expect((await mustGet(store, first!.id)).childrenCount).toBe(1);
      // The same task named by its id and through an item is one parent.
      const [both] = (await store.insertTasks([newTask({ idempotencyKey: key }), newTask({ dependsOn: on([first!.id], [0]) })])).slice(1).map((r) => r.task);
      expect(both).toMatchObject({ state: "WAITING", parentIds: [first!.id] });
      expect((await mustGet(store, first!.id)).childrenCount).toBe(2);
      const changed = await succeed(store, first!);
      expect(changed.map((t) => [t.id, t.state]).sort()).toEqual(
        [
          [first!.id, "SUCCEEDED"],
          [child.id, "QUEUED"],
          [both!.id, "QUEUED"],
        ].sort(),
      );
    });

    it("lists the dependent tasks released in a window of time, for the reconciler", async () => {
      const store = await freshStore();
      const parent = await insertOne(store);
      const [child, waiting] = await insert(store, [newTask({ dependsOn: on([parent.id]) }), newTask({ dependsOn: on([], [0]) })]);
      const running = await started(store, parent);
      await store.finishAttempts([{ kind: "succeeded", id: running.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array() }], at(50));
      const listed = await store.listReleased(at(50), at(51), 100);
      expect(listed.map((t) => [t.id, t.state, t.updatedAt.getTime()])).toEqual([[child!.id, "QUEUED", at(50).getTime()]]);
      expect(listed.some((t) => t.id === waiting!.id)).toBe(false);
      expect(await store.listReleased(at(51), at(60), 100)).toEqual([]);
    });

    it("reads parents with their outputs, leaving out the large ones", async () => {
      const store = await freshStore();
      const small = await insertOne(store);
      await succeed(store, small);
      const big = await insertOne(store);
      const running = await started(store, big);
      await store.finishAttempts([{ kind: "succeeded", id: running.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array(2000) }], at(2));
      const parents = await store.getParents([small.id, big.id, uuidv7()], 1000);
      expect(parents.get(small.id)).toMatchObject({ state: "SUCCEEDED", outputBytes: 1, output: new Uint8Array([7]) });
      expect(parents.get(big.id)).toMatchObject({ state: "SUCCEEDED", outputBytes: 2000, output: null });
      expect(parents.size).toBe(2);
    });
  });
}
