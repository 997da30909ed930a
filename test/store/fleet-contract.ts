/**
 * The fleet's records in a `TaskStore`: queue settings (pause, resume), workers (with the
 * attempts they run, draining fenced by session, pruning) and servers (registration,
 * heartbeats, pruning), written against the interface only. `describeStoreContract` registers
 * it, so the PostgreSQL and the PGlite store both run it.
 */
import { describe, expect, it } from "vitest";
import type { ServerRecord, TaskRecord } from "../../src/core/task-types.js";
import type { TaskStore } from "../../src/store/store.js";
import { at, taskIn, worker } from "./fixtures.js";

/** Registers the suite; `freshStore` gives a migrated, empty store of the test's own. */
export function describeFleetContract(freshStore: () => Promise<TaskStore>): void {
  describe("queue settings", () => {
    it("pauses and resumes a queue, keeping the time of a pause in force", async () => {
      const store = await freshStore();
      expect(await store.listQueueSettings()).toEqual([]);
      // Resuming a queue never paused writes nothing.
      expect(await store.setQueuePaused("never", null, at(1))).toEqual({ queue: "never", pausedAt: null, updatedAt: at(1) });
      expect(await store.listQueueSettings()).toEqual([]);

      expect(await store.setQueuePaused("reports", at(10), at(10))).toEqual({ queue: "reports", pausedAt: at(10), updatedAt: at(10) });
      expect(await store.setQueuePaused("reports", at(20), at(20))).toEqual({ queue: "reports", pausedAt: at(10), updatedAt: at(10) });
      await store.setQueuePaused("default", at(15), at(15));
      expect(await store.listQueueSettings()).toEqual([
        { queue: "default", pausedAt: at(15), updatedAt: at(15) },
        { queue: "reports", pausedAt: at(10), updatedAt: at(10) },
      ]);

      expect(await store.setQueuePaused("reports", null, at(30))).toEqual({ queue: "reports", pausedAt: null, updatedAt: at(30) });
      expect(await store.setQueuePaused("reports", at(40), at(40))).toEqual({ queue: "reports", pausedAt: at(40), updatedAt: at(40) });
      await store.setQueuePaused("default", null, at(50));
      expect(await store.listQueueSettings()).toEqual([
        { queue: "default", pausedAt: null, updatedAt: at(50) },
        { queue: "reports", pausedAt: at(40), updatedAt: at(40) },
      ]);
    });
  });

  describe("workers", () => {
    it("lists workers with the attempts they run, by queue, connected or not", async () => {
      const store = await freshStore();
      await store.upsertWorker(worker("w1", { serverId: "server-a", connectedAt: at(1) }));
      await store.upsertWorker(worker("w2", { queues: ["reports"], connectedAt: at(2), state: "DRAINING" }));
      await store.upsertWorker(worker("w3", { connectedAt: at(3), disconnectedAt: at(4) }));
      await store.upsertWorker(worker("idle", { connectedAt: at(5) }));

      const [first, second] = await Promise.all([taskIn(store, "RUNNING", { workerId: "w1" }), taskIn(store, "RUNNING", { workerId: "w1" })]);
      const cancelling = await taskIn(store, "CANCELLING", { workerId: "w2", task: { queue: "reports", type: "demo.sleep" } });
      await taskIn(store, "SUCCEEDED", { workerId: "w1" });
      const left = await taskIn(store, "RUNNING", { workerId: "w3" });
      const ref = (task: TaskRecord) => ({ taskId: task.id, attempt: task.attempt, type: task.type, queue: task.queue, startedAt: task.startedAt });

      const connected = await store.listWorkers({ includeDisconnected: false });
      expect(connected).toEqual([
        { ...worker("w1", { serverId: "server-a", connectedAt: at(1) }), running: [ref(first), ref(second)].sort((a, b) => (a.taskId < b.taskId ? -1 : 1)) },
        { ...worker("w2", { queues: ["reports"], connectedAt: at(2), state: "DRAINING" }), running: [ref(cancelling)] },
        { ...worker("idle", { connectedAt: at(5) }), running: [] },
      ]);
      expect((await store.listWorkers({ includeDisconnected: true })).map((w) => w.id)).toEqual(["w1", "w2", "w3", "idle"]);
      expect((await store.listWorkers({ includeDisconnected: false, queue: "reports" })).map((w) => w.id)).toEqual(["w2"]);
      expect((await store.listWorkers({ includeDisconnected: true, queue: "default" })).map((w) => w.id)).toEqual(["w1", "w3", "idle"]);
      expect(await store.listWorkers({ includeDisconnected: true, queue: "nowhere" })).toEqual([]);

      expect(await store.getWorker("w3")).toEqual({ ...worker("w3", { connectedAt: at(3), disconnectedAt: at(4) }), running: [ref(left)] });
      expect(await store.getWorker("nobody")).toBeUndefined();
    });

    it("marks a worker DRAINING only for its current, open session", async () => {
      const store = await freshStore();
      await store.upsertWorker(worker("w1", { sessionId: "session-2" }));
      await store.markWorkerDraining("w1", "session-1");
      expect((await store.getWorker("w1"))?.state).toBe("CONNECTED");
      await store.markWorkerDraining("w1", "session-2");
      expect((await store.getWorker("w1"))?.state).toBe("DRAINING");

      // Reconnecting starts CONNECTED; a late drain of the closed session is ignored.
      await store.upsertWorker(worker("w1", { sessionId: "session-3", serverId: "server-2" }));
      expect(await store.getWorker("w1")).toMatchObject({ state: "CONNECTED", serverId: "server-2", sessionId: "session-3" });
      await store.markWorkerDraining("w1", "session-2");
      expect((await store.getWorker("w1"))?.state).toBe("CONNECTED");
      await store.markWorkerDisconnected("w1", "session-3", at(10));
      await store.markWorkerDraining("w1", "session-3");
      expect((await store.getWorker("w1"))?.state).toBe("CONNECTED");
      await store.markWorkerDraining("nobody", "session-1");
    });

    it("prunes workers disconnected before a time, at most `limit` per call", async () => {
      const store = await freshStore();
      for (const [id, disconnectedAt] of [["a", at(1)], ["b", at(2)], ["c", at(3)], ["d", at(10)], ["e", null]] as const) {
        await store.upsertWorker(worker(id, { disconnectedAt }));
      }
      expect(await store.pruneWorkers(at(10), 2)).toBe(2);
      expect(await store.pruneWorkers(at(10), 2)).toBe(1);
      expect(await store.pruneWorkers(at(10), 2)).toBe(0);
      expect((await store.listWorkers({ includeDisconnected: true })).map((w) => w.id).sort()).toEqual(["d", "e"]);
    });
  });

  describe("servers", () => {
    const server = (id: string, overrides: Partial<ServerRecord> = {}): ServerRecord => ({
      id,
      host: "host-1",
      pid: 100,
      version: "0.1.0",
      address: "10.0.0.1:7233",
      state: "SERVING",
      startedAt: at(0),
      lastHeartbeatAt: at(0),
      workerCount: 0,
      ...overrides,
    });

    it("registers servers, records heartbeats, lists the live ones and prunes the silent", async () => {
      const store = await freshStore();
      await store.upsertServer(server("s2", { startedAt: at(20), lastHeartbeatAt: at(20) }));
      await store.upsertServer(server("s1", { startedAt: at(10), lastHeartbeatAt: at(10) }));
      await store.upsertServer(server("s3", { startedAt: at(5), lastHeartbeatAt: at(5) }));
      expect((await store.listServers(at(0))).map((s) => s.id)).toEqual(["s3", "s1", "s2"]);

      // A heartbeat rewrites everything but the start time.
      const beat = server("s1", { startedAt: at(999), lastHeartbeatAt: at(100), state: "DRAINING", workerCount: 7, version: "0.2.0", address: "h:1", host: "h", pid: 5 });
      await store.upsertServer(beat);
      expect(await store.listServers(at(50))).toEqual([{ ...beat, startedAt: at(10) }]);

      expect(await store.pruneServers(at(20))).toBe(1);
      expect((await store.listServers(at(0))).map((s) => s.id)).toEqual(["s1", "s2"]);
      await store.deleteServer("s2");
      await store.deleteServer("unknown");
      expect((await store.listServers(at(0))).map((s) => s.id)).toEqual(["s1"]);
      expect(await store.pruneServers(at(0))).toBe(0);
    });
  });
}
