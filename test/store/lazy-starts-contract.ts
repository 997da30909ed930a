/**
 * Attempts that start in the claim and reach PostgreSQL later (issue 16): `beginAttempts` reads
 * without writing, `recordStarts` writes the starts in one statement, and `finishAttempts` writes
 * an unwritten start together with its outcome. Registered from `./store-contract.ts`, so every
 * driver runs it. The fences matter most: a start or outcome of an attempt the row moved past,
 * or of a task cancelled meanwhile, changes nothing; attempt numbers skip one for a task older
 * than the index it was claimed from (`core/attempt-numbers.ts`).
 */
import { expect, it } from "vitest";
import type { TaskStore } from "../../src/store/store.js";
import { at, attemptError, insertOne, mustGet, T0 } from "./fixtures.js";

/** Registers the suite; `freshStore` gives a migrated store of the test's own. */
export function describeLazyStartsContract(freshStore: () => Promise<TaskStore>): void {
  const never = new Date(0);

  it("beginAttempts returns the waiting tasks as started, in the order given, and writes nothing", async () => {
    const store = await freshStore();
    const a = await insertOne(store);
    const b = await insertOne(store);
    const other = await insertOne(store, { type: "demo.other" });
    const { started, others } = await store.beginAttempts([b.id, other.id, a.id], "worker-1", at(100), ["demo.echo"], never);
    expect(started.map((t) => [t.id, t.state, t.attempt, t.workerId, t.startedAt])).toEqual([
      [b.id, "RUNNING", 1, "worker-1", at(100)],
      [a.id, "RUNNING", 1, "worker-1", at(100)],
    ]);
    expect(started[0]?.transitions.at(-1)).toEqual({ state: "RUNNING", attempt: 1, time: at(100).toISOString() });
    expect(others).toEqual([{ id: other.id, state: "QUEUED", priority: 0, type: "demo.other", scheduledAt: T0 }]);
    expect(await mustGet(store, a.id)).toMatchObject({ state: "QUEUED", attempt: 0, workerId: null });
  });

  it("beginAttempts skips one attempt number for a task older than the index", async () => {
    const store = await freshStore();
    const task = await insertOne(store);
    const { started } = await store.beginAttempts([task.id], "worker-1", at(100), ["demo.echo"], at(50));
    expect(started[0]?.attempt).toBe(2);
    const young = await insertOne(store, { createdAt: at(60) });
    expect((await store.beginAttempts([young.id], "worker-1", at(100), ["demo.echo"], at(50))).started[0]?.attempt).toBe(1);
  });

  it("recordStarts writes the starts, and a replay or a start of an attempt the row moved past changes nothing", async () => {
    const store = await freshStore();
    const a = await insertOne(store);
    const b = await insertOne(store);
    const starts = [
      { id: a.id, attempt: 1, workerId: "worker-1", startedAt: at(100) },
      { id: b.id, attempt: 1, workerId: "worker-2", startedAt: at(100) },
    ];
    expect(await store.recordStarts(starts)).toEqual(["written", "written"]);
    expect(await mustGet(store, a.id)).toMatchObject({ state: "RUNNING", attempt: 1, workerId: "worker-1", startedAt: at(100) });
    expect((await mustGet(store, a.id)).transitions.at(-1)).toEqual({ state: "RUNNING", attempt: 1, time: at(100).toISOString() });
    // The replay finds its own start: covered, nothing appended.
    expect(await store.recordStarts(starts)).toEqual(["covered", "covered"]);
    expect((await mustGet(store, a.id)).transitions).toHaveLength(2);
    // Another worker's start of the same attempt is refused.
    expect(await store.recordStarts([{ id: a.id, attempt: 1, workerId: "worker-9", startedAt: at(200) }])).toEqual(["refused"]);
    expect(await mustGet(store, a.id)).toMatchObject({ workerId: "worker-1" });
  });

  it("recordStarts of a task cancelled as it was handed out is refused", async () => {
    const store = await freshStore();
    const task = await insertOne(store);
    expect((await store.cancelTask(task.id, "stop", at(50)))?.kind).toBe("cancelled");
    expect(await store.recordStarts([{ id: task.id, attempt: 1, workerId: "worker-1", startedAt: at(100) }])).toEqual(["refused"]);
    expect(await mustGet(store, task.id)).toMatchObject({ state: "CANCELLED", attempt: 0 });
  });

  it("finishAttempts writes an unwritten start with its outcome, once; the later start write finds it covered", async () => {
    const store = await freshStore();
    const task = await insertOne(store);
    const start = { workerId: "worker-1", startedAt: at(100) };
    const output = new Uint8Array([9]);
    const [done] = await store.finishAttempts([{ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t/x", output, start }], at(150));
    expect(done).toMatchObject({ state: "SUCCEEDED", attempt: 1, workerId: "worker-1", startedAt: at(100), finishedAt: at(150) });
    expect(done?.transitions.slice(-2)).toEqual([
      { state: "RUNNING", attempt: 1, time: at(100).toISOString() },
      { state: "SUCCEEDED", attempt: 1, time: at(150).toISOString() },
    ]);
    // A duplicate of the outcome, and the start written late, change nothing.
    expect(await store.finishAttempts([{ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t/x", output, start }], at(160))).toEqual([]);
    expect(await store.recordStarts([{ id: task.id, attempt: 1, ...start }])).toEqual(["covered"]);
    expect((await mustGet(store, task.id)).transitions).toHaveLength(3);
  });

  it("finishAttempts of an unwritten start: a retryable failure schedules the retry under the outcome's attempt", async () => {
    const store = await freshStore();
    const task = await insertOne(store);
    const [failed] = await store.finishAttempts(
      [{ kind: "failed", id: task.id, attempt: 2, error: attemptError(2), start: { workerId: "worker-1", startedAt: at(100) } }],
      at(150),
    );
    expect(failed).toMatchObject({ state: "SCHEDULED", attempt: 2, workerId: "worker-1" });
    expect(failed?.errors.map((e) => e.attempt)).toEqual([2]);
    // An outcome of an earlier attempt (even one carrying a start) is stale.
    expect(await store.finishAttempts([{ kind: "failed", id: task.id, attempt: 1, error: attemptError(1), start: { workerId: "w", startedAt: at(90) } }], at(160))).toEqual([]);
    // Without a start, an outcome never reaches a waiting row.
    expect(await store.finishAttempts([{ kind: "failed", id: task.id, attempt: 3, error: attemptError(3) }], at(170))).toEqual([]);
  });

  it("finishAttempts of an unwritten start released by its worker leaves the task queued, its number used up", async () => {
    const store = await freshStore();
    const task = await insertOne(store);
    const [released] = await store.finishAttempts(
      [{ kind: "released", id: task.id, attempt: 2, reason: "draining", start: { workerId: "worker-1", startedAt: at(100) } }],
      at(150),
    );
    expect(released).toMatchObject({ state: "QUEUED", attempt: 1, workerId: null, startedAt: null, errors: [] });
    const { started } = await store.beginAttempts([task.id], "worker-2", at(200), ["demo.echo"], never);
    expect(started[0]?.attempt).toBe(2);
  });

  it("finishAttempts of an unwritten start of a task cancelled meanwhile changes nothing", async () => {
    const store = await freshStore();
    const task = await insertOne(store);
    await store.cancelTask(task.id, "stop", at(50));
    const outcome = { kind: "succeeded" as const, id: task.id, attempt: 1, outputTypeUrl: "t/x", output: new Uint8Array(), start: { workerId: "worker-1", startedAt: at(40) } };
    expect(await store.finishAttempts([outcome], at(100))).toEqual([]);
    expect(await mustGet(store, task.id)).toMatchObject({ state: "CANCELLED", attempt: 0 });
  });
}
