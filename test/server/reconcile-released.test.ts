/**
 * The reconciler's look at released dependent tasks (`reconcileReleased`): a server that died
 * between a parent's outcome and the broker write of the children it released left them QUEUED in
 * PostgreSQL only, with ids as old as their submission; they are found by the time of their
 * release and indexed once, while WAITING tasks never are. On PostgreSQL, with the in-process
 * broker and the Redis one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import type { Broker } from "../../src/broker/broker.js";
import { silentLogger } from "../../src/core/logger.js";
import { reconcileRange, reconcileReleased } from "../../src/server/duties/reconciler.js";
import type { TaskStore } from "../../src/store/store.js";
import { createTestStore } from "../support/database.js";
import { redisTestSpace } from "../support/redis.js";
import { insertOne, newTask } from "../store/store-contract.js";

describe.each(["memory", "redis"] as const)("reconcileReleased with the %s broker", (kind) => {
  let store: TaskStore;
  let broker: Broker;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const created = await createTestStore();
    store = created.store;
    cleanups.push(created.cleanup);
    if (kind === "memory") {
      broker = new MemoryBroker();
    } else {
      const space = redisTestSpace();
      const redis = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger: silentLogger() });
      broker = redis;
      cleanups.push(async () => {
        await redis.close();
        await space.cleanup();
      });
    }
  }, 60_000);

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("indexes a released child the broker missed, once, and never a WAITING one", async () => {
    const submitted = new Date(Date.now() - 3_600_000); // an hour ago: beyond any window of recent ids
    const parent = await insertOne(store, { createdAt: submitted, scheduledAt: submitted, queue: `rel-${kind}` });
    const [child, grandchild] = (
      await store.insertTasks([
        newTask({ createdAt: submitted, scheduledAt: submitted, queue: `rel-${kind}`, dependsOn: { taskIds: [parent.id], items: [], onParentFailure: "CANCEL" } }),
        newTask({ createdAt: submitted, scheduledAt: submitted, queue: `rel-${kind}`, dependsOn: { taskIds: [], items: [0], onParentFailure: "CANCEL" } }),
      ])
    ).map((r) => r.task);
    // A window of recent ids holds none of them.
    const before = Date.now();
    // The parent ran and succeeded; the server "died" before its broker write.
    const [running] = (await store.startAttempts([parent.id], "w1", new Date(), [parent.type])).started;
    const changed = await store.finishAttempts([{ kind: "succeeded", id: parent.id, attempt: running!.attempt, outputTypeUrl: "t", output: new Uint8Array() }], new Date());
    expect(changed.map((t) => [t.id, t.state])).toEqual([
      [parent.id, "SUCCEEDED"],
      [child!.id, "QUEUED"],
    ]);

    const since = new Date(before - 60_000);
    const until = new Date(Date.now() + 1000);
    expect(await reconcileReleased(broker, store, since, until, Date.now())).toEqual({ checked: 1, indexed: 1 });
    expect(await reconcileReleased(broker, store, since, until, Date.now())).toEqual({ checked: 1, indexed: 0 });
    expect(await broker.claim(`rel-${kind}`, [parent.type], 10, Date.now() + 30_000)).toEqual([child!.id]);
    // A full pass leaves the WAITING grandchild out too.
    await reconcileRange(broker, store, undefined, undefined, Date.now());
    expect(await broker.counts(`rel-${kind}`)).toMatchObject({ pending: 0 });
    expect(grandchild?.state).toBe("WAITING");
  });
});
