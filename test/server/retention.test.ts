/**
 * Retention on a real PostgreSQL store: finished tasks past their retention are deleted in
 * batches (a type's own retention first, else the server's), unfinished ones never, idempotency
 * keys become free, and workers gone past the retention are forgotten. The run's clock is
 * injected (`applyRetention`'s `now`), so nothing waits.
 */
import { describe, expect, it } from "vitest";
import type { TaskTypeRecord } from "../../src/core/task-types.js";
import { applyRetention, DELETE_BATCH } from "../../src/server/duties/retention.js";
import { createTestStore } from "../support/database.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { at, BACKOFF, insertOne, newTask, worker } from "../store/fixtures.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function taskType(name: string, retentionMs: number | null): Omit<TaskTypeRecord, "updatedAt"> {
  return {
    name,
    inputType: "google.protobuf.Struct",
    outputType: "google.protobuf.Struct",
    description: "",
    descriptors: new Uint8Array(),
    descriptorSet: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // SHA-256 of no bytes
    defaults: { queue: null, priority: 0, timeoutMs: null, maxAttempts: 3, backoff: BACKOFF, retentionMs },
  };
}

describe("retention", () => {
  const cleanups = cleanupsAfterEach();

  it("deletes finished tasks past their retention in batches, a type's own first, and never unfinished ones", async () => {
    const { store, cleanup } = await createTestStore();
    cleanups.push(cleanup);
    await store.upsertTaskTypes([taskType("short.lived", HOUR), taskType("demo.echo", null)], at(0));

    // More than one batch of finished demo.echo tasks, a few short-lived ones, and waiting ones.
    const count = DELETE_BATCH * 2 + 7;
    const finished = Array.from({ length: count }, () => newTask());
    await store.insertTasks(finished);
    const cancelled = await store.cancelWaiting({ ids: finished.map((t) => t.id) }, count, at(0));
    expect(cancelled).toHaveLength(count);
    const short = await Promise.all([1, 2, 3].map(() => insertOne(store, { type: "short.lived", idempotencyKey: `short-${Math.random()}` })));
    await store.cancelWaiting({ ids: short.map((t) => t.id) }, 10, at(0));
    const waiting = await insertOne(store);

    // Two hours on: only the short-lived type is past its retention; no server-wide retention.
    expect(await applyRetention(store, undefined, at(2 * HOUR).getTime())).toEqual({ tasks: 3, workers: 0 });
    expect(await store.getTask(short[0]!.id)).toBeUndefined();
    expect((await store.countTasks({ type: "demo.echo" }, { type: false, queue: false })).reduce((n, c) => n + c.count, 0)).toBe(count + 1);

    // With a server-wide retention of a day, two days on: every finished demo.echo task goes.
    expect(await applyRetention(store, DAY, at(2 * DAY).getTime())).toEqual({ tasks: count, workers: 0 });
    expect(await store.getTask(waiting.id)).toMatchObject({ state: "QUEUED" });

    // A deleted task's idempotency key is free again.
    const key = short[1]!.idempotencyKey;
    const [again] = await store.insertTasks([newTask({ type: "short.lived", idempotencyKey: key })]);
    expect(again?.existing).toBe(false);
  }, 120_000);

  it("forgets workers gone longer than the retention, and keeps connected ones", async () => {
    const { store, cleanup } = await createTestStore();
    cleanups.push(cleanup);
    await store.upsertWorker(worker("gone", { sessionId: "s-gone" }));
    await store.markWorkerDisconnected("gone", "s-gone", at(0));
    await store.upsertWorker(worker("here", { sessionId: "s-here" }));
    expect(await applyRetention(store, DAY, at(HOUR).getTime())).toEqual({ tasks: 0, workers: 0 });
    expect(await applyRetention(store, DAY, at(2 * DAY).getTime())).toEqual({ tasks: 0, workers: 1 });
    expect(await store.getWorker("gone")).toBeUndefined();
    expect(await store.getWorker("here")).toBeDefined();
  }, 60_000);
});
