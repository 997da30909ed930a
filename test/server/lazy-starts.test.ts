/**
 * Attempts that start in the claim and reach PostgreSQL later (issue 16), on a real PostgreSQL
 * and Redis: the start writer writes a start after its delay, never writes one whose outcome
 * came first, and reports a start PostgreSQL refused (the task was cancelled as it was handed
 * out); the reaper uses up the number of a claim whose server died before writing its start, so
 * that number is never handed out again and a late report of it is stale.
 */
import { describe, expect, it } from "vitest";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { silentLogger } from "../../src/core/logger.js";
import { reaper } from "../../src/server/duties/reaper.js";
import { AttemptRecorder } from "../../src/server/engine/attempt-recorder.js";
import { SessionRegistry } from "../../src/server/engine/session-registry.js";
import { StartWriter } from "../../src/server/engine/start-writer.js";
import { TaskEvents } from "../../src/server/engine/task-events.js";
import type { AttemptStart, TaskStore } from "../../src/store/store.js";
import { insertOne } from "../store/store-contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { createTestStore } from "../support/database.js";
import { redisTestSpace } from "../support/redis.js";
import { eventually } from "../support/server.js";

const EPOCH = new Date(0);

describe("attempts started in the claim, written later", () => {
  const cleanups = cleanupsAfterEach();

  async function setup() {
    const created = await createTestStore();
    cleanups.push(created.cleanup);
    const space = redisTestSpace();
    cleanups.push(() => space.cleanup());
    const logger = silentLogger();
    const broker = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger });
    cleanups.push(() => broker.close());
    return { store: created.store as TaskStore, broker, logger };
  }

  it("the start writer writes a start after its delay, skips one its outcome wrote, and reports a refused one", async () => {
    const { store, logger } = await setup();
    const refused: AttemptStart[] = [];
    const starts = new StartWriter(store, logger, (start) => refused.push(start), { delayMs: 20 });
    cleanups.push(async () => starts.close());
    const [slow, fast, cancelled] = [await insertOne(store), await insertOne(store), await insertOne(store)];
    const startedAt = new Date();
    const begun = await store.beginAttempts([slow.id, fast.id, cancelled.id], "worker-1", startedAt, ["demo.echo"], EPOCH);
    expect(begun.started.map((t) => t.attempt)).toEqual([1, 1, 1]);
    starts.begin(begun.started.map((t) => ({ id: t.id, attempt: t.attempt, workerId: "worker-1", startedAt })));

    // The fast one's outcome carries its start and settles it: its start is never written on its own.
    const recorder = new AttemptRecorder(store, { requeue: async () => {}, release: async () => {} } as never, { publish() {} } as never, logger, starts);
    cleanups.push(async () => recorder.close());
    expect((await recorder.record({ kind: "succeeded", id: fast.id, attempt: 1, outputTypeUrl: "t/x", output: new Uint8Array() }))?.state).toBe("SUCCEEDED");
    expect(starts.unwritten(fast.id, 1)).toBeUndefined();
    // The third is cancelled as it was handed out: PostgreSQL still had it QUEUED.
    expect((await store.cancelTask(cancelled.id, "stop", new Date()))?.kind).toBe("cancelled");

    await starts.flush();
    expect(starts.pendingCount).toBe(0);
    expect(await store.getTask(slow.id)).toMatchObject({ state: "RUNNING", attempt: 1, workerId: "worker-1", startedAt });
    const done = await store.getTask(fast.id);
    expect(done?.transitions.map((t) => t.state)).toEqual(["QUEUED", "RUNNING", "SUCCEEDED"]);
    expect(refused.map((s) => s.id)).toEqual([cancelled.id]);
    expect(await store.getTask(cancelled.id)).toMatchObject({ state: "CANCELLED", attempt: 0 });
  });

  it("the reaper uses up the number of a claim's unwritten attempt, which is never handed out again", async () => {
    const { store, broker, logger } = await setup();
    const task = await insertOne(store, { queue: "default", maxAttempts: 3 });
    await broker.enqueue([{ id: task.id, queue: "default", type: "demo.echo", priority: 0 }]);
    // A server claims the task and hands out attempt 1, then dies before writing the start: its lease runs out.
    const now = Date.now();
    expect(await broker.claim("default", ["demo.echo"], 1, now - 1)).toEqual([task.id]);
    const { started } = await store.beginAttempts([task.id], "worker-of-a-dead-server", new Date(now), ["demo.echo"], EPOCH);
    expect(started[0]?.attempt).toBe(1);

    const events = new TaskEvents(broker, logger);
    const recorder = new AttemptRecorder(store, broker, events, logger);
    cleanups.push(async () => recorder.close());
    const duty = reaper({ broker, store, sessions: new SessionRegistry(), recorder, isClaimed: () => false, leaseTimeoutMs: 1_500, indexBuiltAt: async () => EPOCH, logger });
    duty.start();
    cleanups.push(() => duty.close());

    const reaped = await eventually(async () => {
      const current = await store.getTask(task.id);
      return current !== undefined && current.attempt > 0 ? current : undefined;
    }, 20_000, "the reaper to use up the number");
    // Queued again at attempt 1: the number is used, no error recorded, no attempt counted.
    expect(reaped).toMatchObject({ state: "QUEUED", attempt: 1, errors: [] });
    expect(reaped.transitions.map((t) => [t.state, t.attempt])).toEqual([["QUEUED", 0], ["QUEUED", 1]]);
    // The dead server's worker reports attempt 1 late: stale. The next claim numbers past it.
    const late = { kind: "succeeded" as const, id: task.id, attempt: 1, outputTypeUrl: "t/x", output: new Uint8Array(), start: { workerId: "worker-of-a-dead-server", startedAt: new Date(now) } };
    expect(await store.finishAttempts([late], new Date())).toEqual([]);
    const again = await store.beginAttempts([task.id], "worker-2", new Date(reaped.scheduledAt.getTime() + 1), ["demo.echo"], EPOCH);
    expect(again.started[0]?.attempt).toBe(2);
  });
});
