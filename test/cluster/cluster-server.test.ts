/**
 * Taskwire servers and a worker on a real Redis Cluster of three masters that this file starts
 * itself, with PostgreSQL: two servers share the cluster (one key prefix) and one schema, the
 * worker is connected to B, calls go to A. Submit, dispatch, progress followed from the other
 * server, cancel through the other server, a rebuild after FLUSHALL on every master that
 * loses no task (queued, scheduled, or running), and one after a single master lost its data
 * while the index marker, on another master, survived.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, TaskCancelledError, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { loadServerConfig, type ServerConfig } from "../../src/config/config.js";
import { createKeys } from "../../src/broker/redis/keys.js";
import { silentLogger } from "../../src/core/logger.js";
import { startServer, type TaskwireServer } from "../../src/server/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { dropSchema, TEST_DATABASE_URL, uniqueSchemaName } from "../support/database.js";
import { uniquePrefix } from "../support/redis.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";
import { eventually, FAST, spawnWorker, type WorkerProcess } from "../support/server.js";

describe("a fleet of two servers on a Redis Cluster + PostgreSQL", () => {
  let cluster: TestRedisCluster;
  let config: ServerConfig;
  let a: TaskwireServer;
  let b: TaskwireServer;
  let worker: WorkerProcess;
  const workers: WorkerProcess[] = [];
  let clientA: TaskwireClient;
  let clientB: TaskwireClient;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    config = {
      ...loadServerConfig({}),
      ...FAST,
      port: 0,
      redisUrl: cluster.url,
      redisCluster: true,
      redisPrefix: uniquePrefix(),
      databaseUrl: TEST_DATABASE_URL,
      databaseSchema: uniqueSchemaName(),
    };
    a = await startServer(config, silentLogger());
    b = await startServer(config, silentLogger());
    worker = spawnWorker(`http://127.0.0.1:${b.port}`, ["--concurrency", "4"]);
    workers.push(worker);
    clientA = createClient({ url: `http://127.0.0.1:${a.port}` });
    clientB = createClient({ url: `http://127.0.0.1:${b.port}` });
    await eventually(async () => (await clientA.listTypes()).some((type) => type.name === fixtures.echo.spec.name && type.workerCount === 1), 60_000, "the worker to connect to B");
  }, 120_000);

  afterAll(async () => {
    for (const process of workers) process.kill("SIGTERM");
    await Promise.all(workers.map((process) => process.exited));
    clientA?.close();
    clientB?.close();
    await b?.close();
    await a?.close();
    if (config !== undefined) await dropSchema(config.databaseSchema);
    await cluster?.stop();
  }, 60_000);

  it("runs tasks of every queue submitted on A on B's worker", async () => {
    const handles = await Promise.all(
      [10, 0, -5].flatMap((priority) => Array.from({ length: 5 }, (_, n) => clientA.submit(fixtures.echo, { n, priority }, { priority }))),
    );
    const outputs = await Promise.all(handles.map((handle) => handle.result({ timeout: 60_000 })));
    expect(outputs.map((output) => output.taskId)).toEqual(handles.map((handle) => handle.id));
    const queues = new Set((await Promise.all(handles.map((handle) => handle.status()))).map((task) => task.queue));
    expect([...queues].sort()).toEqual(["default", "high_priority", "low_priority"]);
  }, 120_000);

  it("streams the progress of a task submitted on A from B (sharded pub/sub)", async () => {
    const submitted = await clientA.submit(fixtures.sleep, { ms: 900, steps: 3 });
    const events = [];
    for await (const event of clientB.handle(submitted.id).progress()) events.push(event);
    expect(events.at(-1)?.state).toBe(TaskState.SUCCEEDED);
    const percents = events.filter((e) => e.state === TaskState.RUNNING && e.progress).map((e) => Math.round(e.progress?.percent ?? -1));
    expect(percents).toEqual(expect.arrayContaining([33, 67, 100]));
  }, 120_000);

  it("cancels a running task through A while B's worker runs it (control over plain pub/sub)", async () => {
    const handle = await clientA.submit(fixtures.sleep, { ms: 120_000, steps: 120 });
    for await (const event of clientB.handle(handle.id).progress()) if (event.state === TaskState.RUNNING) break;
    await handle.cancel("changed my mind");
    await expect(handle.result({ timeout: 60_000 })).rejects.toBeInstanceOf(TaskCancelledError);
    expect((await handle.status()).state).toBe(TaskState.CANCELLED);
  }, 120_000);

  it("rebuilds the index after FLUSHALL on every master and loses no task", async () => {
    // Running: a task on B's worker, past its first progress report.
    const running = await clientA.submit(fixtures.sleep, { ms: 6_000, steps: 6 });
    for await (const event of clientA.handle(running.id).progress()) if (event.state === TaskState.RUNNING && event.progress) break;
    // Queued: tasks of queues no connected worker serves yet, spread over the masters.
    const parked = Array.from({ length: 6 }, (_, i) => `parked-${i}`);
    const queued = await Promise.all(parked.flatMap((queue) => [1, 2, 3].map((n) => clientA.submit(fixtures.echo, { n }, { queue }))));
    // Scheduled: runnable a little later, in the worker's queue.
    const scheduled = await Promise.all([1, 2, 3].map((n) => clientA.submit(fixtures.echo, { n }, { runAt: new Date(Date.now() + 1_500) })));
    const before = await cluster.keysWithPrefix(config.redisPrefix);
    expect(before.length).toBeGreaterThan(0);

    // (Keys come back at once: duty leases, then the rebuild.)
    await cluster.flushAll();

    // The servers notice (their index guard looks every second) and one rebuilds from PostgreSQL.
    await eventually(async () => (await cluster.keysWithPrefix(config.redisPrefix)).some((key) => key.includes("{q:parked-5}")), 30_000, "the rebuilt index");
    expect(await running.result({ timeout: 60_000 })).toMatchObject({ slept: 6_000 });
    await Promise.all(scheduled.map((handle) => handle.result({ timeout: 60_000 })));

    const second = spawnWorker(`http://127.0.0.1:${a.port}`, ["--queues", parked.join(","), "--concurrency", "4"]);
    workers.push(second);
    const outputs = await Promise.all(queued.map((handle) => handle.result({ timeout: 60_000 })));
    expect(outputs.map((output) => output.taskId)).toEqual(queued.map((handle) => handle.id));
    const states = await Promise.all([running, ...queued, ...scheduled].map(async (handle) => (await handle.status()).state));
    expect(states.every((state) => state === TaskState.SUCCEEDED)).toBe(true);
  }, 180_000);

  it("rebuilds the index when one master lost its data while the marker's master kept it", async () => {
    const keys = createKeys(config.redisPrefix);
    const inspector = cluster.client();
    try {
      const markerMaster = await cluster.masterOf(keys.epoch());
      // A queue of the second worker whose keys live on another master than the marker.
      let queue: string | undefined;
      for (let i = 0; queue === undefined && i < 6; i++) {
        if ((await cluster.masterOf(keys.leases(`parked-${i}`))) !== markerMaster) queue = `parked-${i}`;
      }
      if (queue === undefined) throw new Error("every parked queue on the marker's master");
      const before = await eventually(async () => {
        const value = await inspector.get(keys.epoch());
        return value?.startsWith("ready:") === true && value;
      }, 30_000, "a ready index");
      // Delayed tasks: in the queue's delayed set only, until their run time.
      const later = await Promise.all([1, 2, 3].map((n) => clientA.submit(fixtures.echo, { n }, { queue, runAt: new Date(Date.now() + 2_000) })));
      // The marker lives on another master: it survives, and only the copies tell the loss.
      await cluster.flushNodeOf(keys.leases(queue));

      // A server notices the missing copy of the token on that master and rebuilds.
      const after = await eventually(async () => {
        const value = await inspector.get(keys.epoch());
        return value !== before && value?.startsWith("ready:") === true && value;
      }, 30_000, "a new index generation");
      expect(after).not.toBe(before);
      const outputs = await Promise.all(later.map((handle) => handle.result({ timeout: 60_000 })));
      expect(outputs.map((output) => output.taskId)).toEqual(later.map((handle) => handle.id));
    } finally {
      await inspector.quit();
    }
  }, 120_000);

  it("serves again once the whole cluster restarted empty: reconnects, resubscribes, rebuilds", async () => {
    const keys = createKeys(config.redisPrefix);
    const inspector = cluster.client();
    try {
      const before = await eventually(async () => {
        const value = await inspector.get(keys.epoch());
        return value?.startsWith("ready:") === true && value;
      }, 30_000, "a ready index");
      await cluster.restart();
      // The index is rebuilt (a new generation) by a server that reconnected.
      await eventually(async () => {
        const value = await inspector.get(keys.epoch()).catch(() => null);
        return value !== before && value?.startsWith("ready:") === true;
      }, 60_000, "a new index generation after the restart");
    } finally {
      await inspector.quit();
    }
    // B's wake-up and control subscriptions were made before the restart.
    const done = await clientA.submit(fixtures.sleep, { ms: 600, steps: 3 });
    const events = [];
    for await (const event of clientB.handle(done.id).progress()) events.push(event);
    expect(events.at(-1)?.state).toBe(TaskState.SUCCEEDED);
    const cancelled = await clientA.submit(fixtures.sleep, { ms: 120_000, steps: 120 });
    for await (const event of clientB.handle(cancelled.id).progress()) if (event.state === TaskState.RUNNING) break;
    await cancelled.cancel("after the restart");
    await expect(cancelled.result({ timeout: 60_000 })).rejects.toBeInstanceOf(TaskCancelledError);
  }, 180_000);
});
