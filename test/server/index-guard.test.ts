/**
 * The index guard against the real Redis and PostgreSQL: a missing marker means the index was
 * lost, one guard rebuilds it (queued, scheduled, running tasks with their leases) and the
 * others adopt it; a rebuild that loses its claim does not mark the index ready; a repair
 * request re-indexes what PostgreSQL holds; the embedded default ends orphaned attempts.
 */
import { describe, expect, it } from "vitest";
import type { Broker } from "../../src/broker/broker.js";
import { MemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { silentLogger } from "../../src/core/logger.js";
import { IndexGuard } from "../../src/server/engine/index-guard.js";
import type { TaskStore } from "../../src/store/store.js";
import { createTestStore } from "../support/database.js";
import { redisTestSpace } from "../support/redis.js";
import { insertOne, mustGet, runningTask } from "../store/store-contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";

const LEASE_MS = 30_000;

describe("IndexGuard", () => {
  const cleanups = cleanupsAfterEach();

  async function store(): Promise<TaskStore> {
    const created = await createTestStore();
    cleanups.push(created.cleanup);
    return created.store;
  }

  /** A Redis broker on a prefix of its own; `flush()` deletes its keys, as FLUSHALL would. */
  async function redisBroker(): Promise<{ broker: RedisBroker; flush: () => Promise<void> }> {
    const space = redisTestSpace();
    const broker = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger: silentLogger() });
    cleanups.push(async () => {
      await broker.close();
      await space.cleanup();
    });
    return { broker, flush: space.cleanup };
  }

  /** One queued, one scheduled (an hour from now) and one running task. */
  async function tasks(s: TaskStore) {
    const now = new Date();
    const queued = await insertOne(s, { scheduledAt: now, createdAt: now });
    const scheduled = await insertOne(s, { state: "SCHEDULED", scheduledAt: new Date(now.getTime() + 3_600_000), createdAt: now });
    const running = await runningTask(s, { scheduledAt: now, createdAt: now });
    return { queued, scheduled, running };
  }

  it("builds a missing index: queued and scheduled tasks, and the leases of running ones", async () => {
    const s = await store();
    const { broker } = await redisBroker();
    const { queued, running } = await tasks(s);
    const guard = new IndexGuard(broker, s, silentLogger(), { leaseTimeoutMs: LEASE_MS });

    const report = await guard.check();
    expect(report).toMatchObject({ queued: 1, scheduled: 1, leased: 1, orphaned: 0 });
    expect(await broker.readEpoch()).toEqual({ state: "ready", token: guard.epoch });
    expect(await broker.counts(queued.queue)).toEqual({ pending: 1, delayed: 1, leased: 1 });
    expect(await broker.claim(queued.queue, [queued.type], 10, Date.now() + LEASE_MS)).toEqual([queued.id]);
    // The running attempt's lease is its own again: its holder renews it, a reaper finds it once expired.
    expect(await broker.reapExpired(running.queue, Date.now() + LEASE_MS + 1_000, 10, Date.now() + 2 * LEASE_MS)).toContain(running.id);
    // Nothing more to do on the next check.
    expect(await guard.check()).toBeUndefined();
  });

  it("rebuilds once across servers: the others adopt the new index", async () => {
    const s = await store();
    const { broker, flush } = await redisBroker();
    await tasks(s);
    const first = new IndexGuard(broker, s, silentLogger(), { leaseTimeoutMs: LEASE_MS });
    const second = new IndexGuard(broker, s, silentLogger(), { leaseTimeoutMs: LEASE_MS });
    await first.check();
    expect(await second.check()).toBeUndefined();
    expect(second.epoch).toBe(first.epoch);

    const before = first.epoch;
    await flush();
    const reports = await Promise.all([first.check(), second.check()]);
    expect(reports.filter((report) => report !== undefined)).toHaveLength(1);
    await first.check();
    await second.check();
    expect(first.epoch).not.toBe(before);
    expect(second.epoch).toBe(first.epoch);
  });

  it("does not mark the index ready when its claim was lost during the rebuild", async () => {
    const s = await store();
    const { broker } = await redisBroker();
    await tasks(s);
    // The marker vanishes under the rebuilder (a second FLUSHALL): extending the claim fails.
    const losing = new Proxy<Broker>(broker, {
      get(target, property) {
        if (property === "extendRebuild") return async () => false;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const guard = new IndexGuard(losing, s, silentLogger(), { leaseTimeoutMs: LEASE_MS });
    await expect(guard.check()).rejects.toThrow(/lost again/);
    expect(await broker.readEpoch()).toBeNull();
    expect(guard.epoch).toBeUndefined();
  });

  it("re-indexes from PostgreSQL when a write to the index was lost", async () => {
    const s = await store();
    const { broker } = await redisBroker();
    const guard = new IndexGuard(broker, s, silentLogger(), { leaseTimeoutMs: LEASE_MS });
    await guard.check();
    // Stored while Redis could not be written to: not in the index.
    const now = new Date();
    const stranded = await insertOne(s, { scheduledAt: now, createdAt: now });
    expect(await broker.counts(stranded.queue)).toMatchObject({ pending: 0 });

    guard.requestRepair("a submission could not be indexed");
    expect(await guard.check()).toMatchObject({ queued: 1 });
    expect(await broker.claim(stranded.queue, [stranded.type], 10, Date.now() + LEASE_MS)).toEqual([stranded.id]);
    expect(await guard.check()).toBeUndefined();
  });

  it("ends running attempts as WORKER_LOST where none can be held (the embedded default at start)", async () => {
    const s = await store();
    const broker = new MemoryBroker();
    cleanups.push(() => broker.close());
    const { running } = await tasks(s);
    const report = await new IndexGuard(broker, s, silentLogger(), { leaseTimeoutMs: LEASE_MS, orphanRunning: true }).check();
    // The lost attempt is retried after its back-off: delayed, beside the scheduled task.
    expect(report).toMatchObject({ queued: 1, scheduled: 2, leased: 0, orphaned: 1 });
    const task = await mustGet(s, running.id);
    expect(task.state === "QUEUED" || task.state === "SCHEDULED").toBe(true);
    expect(task.errors[0]).toMatchObject({ attempt: 1, kind: "WORKER_LOST" });
    expect(await broker.counts(running.queue)).toMatchObject({ leased: 0 });
  });
});
