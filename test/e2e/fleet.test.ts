/**
 * One fleet, two servers: server A and server B share Redis and PostgreSQL (one key prefix, one
 * schema), a worker process is connected to B, and every call goes to A. Whatever A is asked —
 * cancel a running task, pause or resume a queue, drain a worker — must reach B's worker
 * (the control plane). And tasks stored in PostgreSQL but never indexed (a server killed between
 * the commit and the index write) must run (the reconciler, and the re-indexing resubmission).
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { Code, ConnectError, createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { AdminService, WorkerState } from "../../gen/taskwire/v1/admin_service_pb.js";
import { createClient, TaskCancelledError, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { packValue } from "../../src/common/any.js";
import type { NewTask } from "../../src/core/task-types.js";
import { createPostgresStore } from "../../src/store/postgres-store.js";
import type { TaskStore } from "../../src/store/store.js";
import { silentLogger } from "../../src/core/logger.js";
import { uuidv7Floor } from "../../src/server/duties/reconciler.js";
import * as fixtures from "../fixtures/tasks.js";
import { TEST_DATABASE_URL } from "../support/database.js";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

/** A logger whose lines a test can wait for. */
function capturingLogger() {
  const lines: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: () => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        lines.push(line);
        for (const waiter of waiters.splice(0)) {
          if (waiter.match(line)) waiter.resolve();
          else waiters.push(waiter);
        }
      }
      done();
    },
  });
  return {
    logger: pino({ level: "info" }, stream),
    /** Resolves once a line (from now on, or already written) matches. */
    waitFor(match: (line: string) => boolean): Promise<void> {
      if (lines.some(match)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    clear() {
      lines.length = 0;
    },
  };
}

/** A task row as a submission would store it, with an id of `createdAt`'s time. */
function storedTask(createdAt: Date, idempotencyKey: string | null = null): NewTask {
  const floor = uuidv7Floor(createdAt.getTime());
  const random = crypto.randomUUID().replaceAll("-", "");
  const id = `${floor.slice(0, 14)}7${random.slice(0, 3)}-8${random.slice(3, 6)}-${random.slice(6, 18)}`;
  const input = packValue(StructSchema, { hello: "reconciled" });
  return {
    id,
    type: fixtures.echo.spec.name,
    queue: "default",
    priority: 0,
    state: "QUEUED",
    inputTypeUrl: input.typeUrl,
    input: input.value,
    maxAttempts: 3,
    timeoutMs: null,
    backoff: { initialMs: 1000, maxMs: 300_000, multiplier: 2, jitter: 0.2 },
    idempotencyKey,
    createdAt,
    scheduledAt: createdAt,
  };
}

describe("a fleet of two servers on Redis + PostgreSQL", () => {
  let a: TestServer;
  let b: TestServer;
  const logsOfB = capturingLogger();
  let worker: WorkerProcess;
  let client: TaskwireClient;
  let admin: Client<typeof AdminService>;
  /** A direct connection to the shared schema, to store tasks the way a dying server leaves them. */
  let store: TaskStore;

  beforeAll(async () => {
    a = await startTestServer({}, undefined, "redis+postgres");
    b = await startTestServer({ redisPrefix: a.config.redisPrefix, databaseSchema: a.config.databaseSchema }, logsOfB.logger, "redis+postgres");
    worker = spawnWorker(b.url, ["--concurrency", "4"]);
    client = createClient({ url: a.url });
    admin = createRpcClient(AdminService, createGrpcTransport({ baseUrl: a.url }));
    store = createPostgresStore({ url: TEST_DATABASE_URL, schema: a.config.databaseSchema, logger: silentLogger() });
    await eventually(async () => (await admin.listWorkers({})).workers.length === 1, 30_000, "the worker to connect to B");
  }, 120_000);

  afterAll(async () => {
    worker?.kill("SIGTERM");
    await worker?.exited;
    client?.close();
    await store?.close();
    await b?.server.close();
    await a?.stop();
  }, 60_000);

  it("lists both servers, and the worker with the server holding its stream", async () => {
    const addressOfB = `127.0.0.1:${b.server.port}`;
    // The worker count is written with each heartbeat (every 5 s).
    const servers = await eventually(async () => {
      const listed = (await admin.listServers({})).servers;
      return listed.find((s) => s.address === addressOfB)?.workerCount === 1 && listed;
    }, 30_000, "B's heartbeat to count the worker");
    expect(servers.map((s) => s.address).sort()).toEqual([`127.0.0.1:${a.server.port}`, addressOfB].sort());
    const serverB = servers.find((s) => s.address === addressOfB);
    const [listed] = (await admin.listWorkers({})).workers;
    expect(listed).toMatchObject({ serverId: serverB?.id, state: WorkerState.CONNECTED, slots: 4 });
    expect(listed?.queues).toEqual(["high_priority", "default", "low_priority"]);
  });

  it("cancels a running task through the other server", async () => {
    const handle = await client.submit(fixtures.sleep, { ms: 120_000, steps: 120 });
    await eventually(async () => (await handle.status()).state === TaskState.RUNNING, 30_000, "the task to run");
    const running = (await admin.listWorkers({})).workers[0]?.running.map((r) => r.taskId);
    expect(running).toContain(handle.id);
    await handle.cancel("an operator changed their mind");
    await expect(handle.result({ timeout: 60_000 })).rejects.toBeInstanceOf(TaskCancelledError);
    expect((await handle.status()).state).toBe(TaskState.CANCELLED);
  }, 120_000);

  it("pauses a queue on every server, keeps accepting submissions, and resumes it", async () => {
    logsOfB.clear();
    const paused = await admin.pauseQueue({ name: "default" });
    expect(paused.queue).toMatchObject({ name: "default", paused: true });
    await logsOfB.waitFor((line) => line.includes("paused queues changed") && line.includes('"default"'));

    // The worker serves high_priority, default, low_priority strictly in order: were `default`
    // dispatching, the task in it would run before the one in low_priority.
    const held = await client.submit(fixtures.echo, { n: 1 }, { queue: "default" });
    const after = await client.submit(fixtures.echo, { n: 2 }, { queue: "low_priority" });
    await after.result({ timeout: 60_000 });
    expect((await held.status()).state).toBe(TaskState.QUEUED);
    expect((await admin.getQueue({ name: "default" })).queue).toMatchObject({ paused: true, queued: 1n });

    // Resumed through the other server.
    const adminB = createRpcClient(AdminService, createGrpcTransport({ baseUrl: b.url }));
    expect((await adminB.resumeQueue({ name: "default" })).queue?.paused).toBe(false);
    await held.result({ timeout: 60_000 });
  }, 120_000);

  it("runs tasks stored in PostgreSQL but missing from the index (the reconciler)", async () => {
    const now = new Date();
    const tasks = Array.from({ length: 10_000 }, () => storedTask(now));
    for (let i = 0; i < tasks.length; i += 2_000) await store.insertTasks(tasks.slice(i, i + 2_000));
    await eventually(
      async () => {
        const { counts } = await admin.countTasks({ selector: { type: fixtures.echo.spec.name, states: [TaskState.QUEUED, TaskState.RUNNING] } });
        const unfinished = counts.reduce((sum, c) => sum + c.count, 0n);
        return unfinished === 0n;
      },
      240_000,
      "the stored tasks to run",
    );
    const finished = await store.getTasks(tasks.slice(0, 50).map((t) => t.id));
    expect(finished.every((t) => t.state === "SUCCEEDED")).toBe(true);
  }, 300_000);

  it("re-indexes an unfinished task when it is submitted again with its idempotency key", async () => {
    // Older than the reconciler's window, so only the resubmission can bring it back.
    const stored = storedTask(new Date(Date.now() - 6 * 60 * 60_000), `lost-${Date.now()}`);
    await store.insertTasks([stored]);
    const again = await client.submit(fixtures.echo, { hello: "again" }, { idempotencyKey: stored.idempotencyKey ?? "" });
    expect(again.existing).toBe(true);
    expect(again.id).toBe(stored.id);
    const output = await again.result({ timeout: 60_000 });
    expect(output).toMatchObject({ hello: "reconciled" });
  }, 120_000);

  it("drains a worker through the other server: it finishes and stops", async () => {
    const [listed] = (await admin.listWorkers({})).workers;
    const drained = await admin.drainWorker({ id: listed?.id ?? "", reason: "maintenance" });
    expect(drained.worker?.state).toBe(WorkerState.DRAINING);
    expect(await worker.exited).toBe(0);
    await eventually(async () => (await admin.listWorkers({})).workers.length === 0, 30_000, "the worker to be gone");
    const [gone] = (await admin.listWorkers({ includeDisconnected: true })).workers;
    expect(gone?.state).toBe(WorkerState.DISCONNECTED);
    await expect(admin.drainWorker({ id: listed?.id ?? "" })).rejects.toSatisfy((e) => e instanceof ConnectError && e.code === Code.FailedPrecondition);
  }, 120_000);
});
