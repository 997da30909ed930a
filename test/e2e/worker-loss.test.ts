/**
 * A worker process killed mid-task: its stream closes, its task is requeued at once with the
 * attempt counted, and runs to completion on another worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, ErrorKind, TaskState, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { BACKENDS, eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
  });

  afterAll(async () => {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
    client?.close();
    await server?.stop();
  });

  describe("a worker killed with SIGKILL", () => {
    it("loses its task to another worker; the attempt counts", async () => {
      const first = spawnWorker(server.url, ["--worker-id", "doomed", "--concurrency", "2"]);
      workers.push(first);
      await eventually(async () => (await client.listTypes()).some((t) => t.workerCount > 0), 20_000, "the first worker");
      const handle = await client.submit(fixtures.sleep, { ms: 1500, steps: 3 }, { maxAttempts: 3 });
      await eventually(async () => (await handle.status()).state === TaskState.RUNNING, 10_000, "the task to start");

      first.kill("SIGKILL");
      await first.exited;
      // The task goes back at once (stream closed), not after a lease timeout.
      await eventually(
        async () => [TaskState.QUEUED, TaskState.SCHEDULED].includes((await handle.status()).state),
        server.config.leaseTimeoutMs,
        "the task to be requeued",
      );

      const second = spawnWorker(server.url, ["--worker-id", "survivor"]);
      workers.push(second);
      await handle.result({ timeout: 30_000 });
      const task = await handle.status();
      expect(task.state).toBe(TaskState.SUCCEEDED);
      expect(task.attempt).toBe(2);
      expect(task.workerId).toBe("survivor");
      expect(task.errors).toHaveLength(1);
      expect(task.errors[0]).toMatchObject({ attempt: 1, kind: ErrorKind.WORKER_LOST, workerId: "doomed", retryable: true });
      second.kill();
      await second.exited;
    });

    it("fails the task when the lost attempt was its last", async () => {
      const worker = spawnWorker(server.url, ["--worker-id", "doomed-again"]);
      workers.push(worker);
      const handle = await client.submit(fixtures.sleep, { ms: 20_000 }, { maxAttempts: 1 });
      await eventually(async () => (await handle.status()).state === TaskState.RUNNING, 20_000, "the task to start");
      worker.kill("SIGKILL");
      await worker.exited;
      await eventually(async () => (await handle.status()).state === TaskState.FAILED, 10_000, "the task to fail");
      const task = await handle.status();
      expect(task.attempt).toBe(1);
      expect(task.errors[0]?.kind).toBe(ErrorKind.WORKER_LOST);
    });
  });
});

describe("a server that died holding a lease (Redis and PostgreSQL: several servers)", () => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    client = createClient({ url: server.url });
  });

  afterAll(async () => {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
    client?.close();
    await server?.stop();
  });

  it("has its expired lease reaped by another server, and the task runs again", async () => {
    const { RedisBroker } = await import("../../src/broker/index.js");
    const { createPostgresStore } = await import("../../src/store/index.js");
    const { silentLogger } = await import("../../src/core/logger.js");
    const worker = spawnWorker(server.url, ["--worker-id", "after-crash"]);
    workers.push(worker);
    await eventually(async () => (await client.listTypes()).some((t) => t.workerCount > 0), 20_000, "the worker");
    // A second "server" claims a queued task and starts its attempt, then dies without a word:
    // its lease (a short one) expires while the task is RUNNING in PostgreSQL.
    const { config } = server;
    const logger = silentLogger();
    const ghostBroker = await RedisBroker.connect({ url: config.redisUrl!, prefix: config.redisPrefix, logger });
    const ghostStore = createPostgresStore({ url: config.databaseUrl!, schema: config.databaseSchema, logger });
    const handle = await client.submit(fixtures.echo, { n: 1 }, { queue: "orphans" });
    const claimed = await ghostBroker.claim("orphans", ["test.echo"], 1, Date.now() + 200);
    expect(claimed).toEqual([handle.id]);
    const { started } = await ghostStore.startAttempts(claimed, "ghost-worker", new Date(), ["test.echo"]);
    expect(started).toHaveLength(1);
    await Promise.all([ghostBroker.close(), ghostStore.close()]);

    // A worker serving "orphans" gets it once the reaper requeued it.
    const rescuer = spawnWorker(server.url, ["--worker-id", "rescuer", "--queues", "orphans"]);
    workers.push(rescuer);
    await handle.result({ timeout: 30_000 });
    const task = await handle.status();
    expect(task.attempt).toBe(2);
    expect(task.workerId).toBe("rescuer");
    expect(task.errors[0]).toMatchObject({ attempt: 1, kind: ErrorKind.WORKER_LOST, workerId: "ghost-worker" });
  });
});
