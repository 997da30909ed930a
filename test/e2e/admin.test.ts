/**
 * AdminService end to end, on both back ends: the views (workers, servers, queues, counts), the
 * queue actions (pause, resume, purge), bulk retry, cancel and delete of 10,000 tasks, the
 * refusal of bad filters, and (Redis + PostgreSQL) the viewer, admin and client roles.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AdminService, CountGroup, WorkerState } from "../../gen/taskwire/v1/admin_service_pb.js";
import { batchItem, createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { testKey } from "../support/keys.js";
import { BACKENDS, eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

/** A queue no worker serves: its tasks wait for the test's bulk actions. */
const PARKING = "admin-parking";
const BULK = 10_000;

function code(error: unknown): Code | undefined {
  return error instanceof ConnectError ? error.code : undefined;
}

async function refused(call: Promise<unknown>, expected: Code, field?: string): Promise<void> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(code(error), `expected ${Code[expected]}, got ${String(error)}`).toBe(expected);
  if (field !== undefined) expect((error as ConnectError).rawMessage).toContain(field);
}

/** Submits `count` echo tasks to the parking queue, in batches. */
async function park(client: TaskwireClient, count: number, priority = 0): Promise<void> {
  for (let i = 0; i < count; i += 5_000) {
    const items = Array.from({ length: Math.min(5_000, count - i) }, (_, j) => batchItem(fixtures.echo, { n: i + j }, { queue: PARKING, priority }));
    await client.submitBatch(items);
  }
}

describe.each(BACKENDS)("AdminService on %s", (backend) => {
  let server: TestServer;
  let worker: WorkerProcess;
  let client: TaskwireClient;
  let admin: Client<typeof AdminService>;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    worker = spawnWorker(server.url, ["--concurrency", "4"]);
    client = createClient({ url: server.url });
    admin = createRpcClient(AdminService, createGrpcTransport({ baseUrl: server.url }));
    await eventually(async () => (await admin.listWorkers({})).workers.length === 1, 30_000, "the worker to connect");
  }, 120_000);

  afterAll(async () => {
    worker?.kill("SIGTERM");
    await worker?.exited;
    client?.close();
    await server?.stop();
  }, 60_000);

  it("lists the worker, gets it by id, and refuses unknown and malformed ids", async () => {
    const { workers } = await admin.listWorkers({});
    expect(workers).toHaveLength(1);
    const [listed] = workers;
    expect(listed).toMatchObject({ state: WorkerState.CONNECTED, slots: 4, slotsInUse: 0 });
    expect(listed?.sdk).toMatch(/^taskwire-ts\//);
    expect(listed?.types).toContain(fixtures.echo.spec.name);
    expect((await admin.getWorker({ id: listed?.id ?? "" })).worker?.id).toBe(listed?.id);
    expect((await admin.listWorkers({ queue: "low_priority" })).workers).toHaveLength(1);
    expect((await admin.listWorkers({ queue: PARKING })).workers).toHaveLength(0);
    await refused(admin.getWorker({ id: "nobody" }), Code.NotFound);
    await refused(admin.getWorker({ id: "" }), Code.InvalidArgument, "id");
    await refused(admin.listWorkers({ queue: "no spaces" }), Code.InvalidArgument, "queue");
  });

  it("lists this server", async () => {
    // The worker count is written with each heartbeat (every 5 s).
    const servers = await eventually(async () => {
      const listed = (await admin.listServers({})).servers;
      return listed[0]?.workerCount === 1 && listed;
    }, 30_000, "the heartbeat to count the worker");
    expect(servers).toHaveLength(1);
    expect(servers[0]).toMatchObject({ address: `127.0.0.1:${server.server.port}`, workerCount: 1 });
  });

  it("counts tasks by state, type and queue, with filters", async () => {
    await client.submit(fixtures.echo, { n: 1 }).then((h) => h.result({ timeout: 30_000 }));
    await park(client, 3);
    const byState = await admin.countTasks({ selector: { type: fixtures.echo.spec.name } });
    expect(byState.counts.find((c) => c.state === TaskState.QUEUED)?.count).toBe(3n);
    expect(byState.counts.find((c) => c.state === TaskState.SUCCEEDED)?.count).toBeGreaterThanOrEqual(1n);
    const byQueue = await admin.countTasks({ selector: { states: [TaskState.QUEUED] }, groupBy: [CountGroup.QUEUE, CountGroup.TYPE] });
    expect(byQueue.counts).toContainEqual(expect.objectContaining({ state: TaskState.QUEUED, queue: PARKING, type: fixtures.echo.spec.name, count: 3n }));
    expect(byQueue.total).toBe(byQueue.counts.reduce((sum, c) => sum + c.count, 0n));
    await refused(admin.countTasks({ groupBy: [CountGroup.UNSPECIFIED] }), Code.InvalidArgument, "group_by[0]");
    await refused(admin.countTasks({ selector: { states: [99 as TaskState] } }), Code.InvalidArgument, "selector.states[0]");
    await refused(admin.countTasks({ selector: { type: "bad type!" } }), Code.InvalidArgument, "selector.type");
    const later = timestampFromDate(new Date());
    const earlier = timestampFromDate(new Date(Date.now() - 60_000));
    await refused(admin.countTasks({ selector: { finishedAfter: later, finishedBefore: earlier } }), Code.InvalidArgument, "selector.finished_after");
  });

  it("shows queues with their figures and workers", async () => {
    const { queues } = await admin.listQueues({});
    const names = queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(["default", "high_priority", "low_priority", PARKING]));
    const parking = (await admin.getQueue({ name: PARKING })).queue;
    expect(parking).toMatchObject({ name: PARKING, paused: false, workerIds: [] });
    expect(parking?.queued).toBeGreaterThanOrEqual(3n);
    expect(parking?.oldestQueuedAge).toBeDefined();
    const served = (await admin.getQueue({ name: "default" })).queue;
    expect(served?.workerIds).toHaveLength(1);
    expect(served?.succeededLastHour).toBeGreaterThanOrEqual(1n);
    expect((await admin.getQueue({ name: "never-used" })).queue).toMatchObject({ name: "never-used", queued: 0n, paused: false });
    await refused(admin.getQueue({ name: "" }), Code.InvalidArgument, "name");
  });

  it("pauses and resumes a queue: submissions accepted, dispatch stopped, persisted", async () => {
    expect((await admin.pauseQueue({ name: "default" })).queue?.paused).toBe(true);
    expect((await admin.listQueues({})).queues.find((q) => q.name === "default")?.paused).toBe(true);
    // Served strictly in order: a dispatching `default` would run its task before low_priority's.
    const held = await client.submit(fixtures.echo, { n: 1 }, { queue: "default" });
    const after = await client.submit(fixtures.echo, { n: 2 }, { queue: "low_priority" });
    await after.result({ timeout: 60_000 });
    expect((await held.status()).state).toBe(TaskState.QUEUED);
    expect((await admin.resumeQueue({ name: "default" })).queue?.paused).toBe(false);
    await held.result({ timeout: 60_000 });
    await refused(admin.pauseQueue({ name: "bad queue" }), Code.InvalidArgument, "name");
  }, 120_000);

  it("purges a queue's waiting tasks, optionally of one type or age", async () => {
    const queue = `${PARKING}-purge`;
    await client.submitBatch(Array.from({ length: 20 }, (_, n) => batchItem(fixtures.echo, { n }, { queue, delay: "1h" })));
    await client.submitBatch(Array.from({ length: 5 }, (_, n) => batchItem(fixtures.record, { n }, { queue })));
    expect((await admin.purgeQueue({ name: queue, type: fixtures.record.spec.name })).cancelled).toBe(5n);
    expect((await admin.purgeQueue({ name: queue, createdBefore: timestampFromDate(new Date(Date.now() - 3_600_000)) })).cancelled).toBe(0n);
    expect((await admin.purgeQueue({ name: queue })).cancelled).toBe(20n);
    const { counts } = await admin.countTasks({ selector: { queue } });
    expect(counts).toEqual([expect.objectContaining({ state: TaskState.CANCELLED, count: 25n })]);
    await refused(admin.purgeQueue({ name: "" }), Code.InvalidArgument, "name");
  });

  it(`cancels, retries and deletes ${BULK} tasks in batches`, async () => {
    await park(client, BULK, 7);
    const selector = { queue: PARKING, states: [TaskState.QUEUED] };
    const cancelled = await admin.cancelTasks({ selector, reason: "bulk test" });
    expect(cancelled.cancelled).toBeGreaterThanOrEqual(BigInt(BULK));
    expect(cancelled.cancelling).toBe(0n);

    const retried = await admin.retryTasks({ selector: { queue: PARKING, states: [TaskState.CANCELLED] } });
    expect(retried.retried).toBe(cancelled.cancelled);
    const queued = await admin.countTasks({ selector: { queue: PARKING, states: [TaskState.QUEUED] } });
    expect(queued.total).toBe(retried.retried);

    await admin.cancelTasks({ selector: { queue: PARKING } });
    const deleted = await admin.deleteTasks({ selector: { queue: PARKING, states: [TaskState.CANCELLED] } });
    expect(deleted.deleted).toBe(retried.retried);
    expect((await admin.countTasks({ selector: { queue: PARKING } })).total).toBe(0n);
  }, 600_000);

  it("retries a failed task with a fresh budget, keeping its errors", async () => {
    const handle = await client.submit(fixtures.flaky, { failTimes: 1 }, { maxAttempts: 1 });
    await eventually(async () => (await handle.status()).state === TaskState.FAILED, 30_000, "the task to fail");
    expect((await admin.retryTasks({ ids: [handle.id] })).retried).toBe(1n);
    await handle.result({ timeout: 30_000 });
    const task = await handle.status();
    expect(task).toMatchObject({ state: TaskState.SUCCEEDED, attempt: 2 });
    expect(task.errors).toHaveLength(1);
    // Only failed or cancelled tasks are retried.
    expect((await admin.retryTasks({ ids: [handle.id] })).retried).toBe(0n);
  }, 120_000);

  it("cancels running tasks in bulk through their workers", async () => {
    const handles = await client.submitBatch([batchItem(fixtures.sleep, { ms: 120_000, steps: 120 }), batchItem(fixtures.sleep, { ms: 120_000, steps: 120 })]);
    await eventually(async () => (await admin.listWorkers({})).workers[0]?.slotsInUse === 2, 30_000, "both to run");
    const { cancelling } = await admin.cancelTasks({ ids: handles.map((h) => h.id) });
    expect(cancelling).toBe(2n);
    for (const h of handles) {
      await h.result({ timeout: 60_000 }).catch(() => undefined);
      expect((await h.status()).state).toBe(TaskState.CANCELLED);
    }
  }, 120_000);

  it("refuses bulk requests that name nothing, or states the action cannot take", async () => {
    await refused(admin.retryTasks({}), Code.InvalidArgument, "selector");
    await refused(admin.cancelTasks({ selector: {} }), Code.InvalidArgument, "selector");
    await refused(admin.deleteTasks({}), Code.InvalidArgument, "selector");
    await refused(admin.retryTasks({ selector: { states: [TaskState.SUCCEEDED] } }), Code.InvalidArgument, "selector.states[0]");
    await refused(admin.deleteTasks({ selector: { states: [TaskState.QUEUED] } }), Code.InvalidArgument, "selector.states[0]");
    await refused(admin.cancelTasks({ selector: { states: [TaskState.FAILED] } }), Code.InvalidArgument, "selector.states[0]");
    await refused(admin.cancelTasks({ selector: { queue: PARKING, finishedBefore: timestampFromDate(new Date()) } }), Code.InvalidArgument, "selector.finished_before");
    await refused(admin.deleteTasks({ ids: ["not-a-uuid"] }), Code.InvalidArgument, "ids[0]");
    await refused(admin.deleteTasks({ ids: Array.from({ length: 10_001 }, () => crypto.randomUUID()) }), Code.InvalidArgument, "ids");
    await refused(admin.drainWorker({ id: "nobody" }), Code.NotFound);
  });

  it("deletes finished tasks only, and frees their idempotency keys", async () => {
    const key = `admin-delete-${backend}`;
    const first = await client.submit(fixtures.echo, { n: 1 }, { idempotencyKey: key });
    await first.result({ timeout: 30_000 });
    const waiting = await client.submit(fixtures.echo, { n: 2 }, { queue: PARKING });
    expect((await admin.deleteTasks({ ids: [first.id, waiting.id] })).deleted).toBe(1n);
    await refused(first.status(), Code.NotFound);
    expect((await waiting.status()).state).toBe(TaskState.QUEUED);
    const again = await client.submit(fixtures.echo, { n: 3 }, { idempotencyKey: key });
    expect(again.existing).toBe(false);
    expect(again.id).not.toBe(first.id);
  });
});

describe("AdminService roles", () => {
  const viewer = testKey("watcher", "viewer");
  const ops = testKey("ops", "admin");
  const app = testKey("app", "client");
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ apiKeys: [viewer, ops, app].map((k) => k.env).join(",") });
  }, 60_000);

  afterAll(async () => server?.stop(), 60_000);

  const adminAs = (headers: Record<string, string>) =>
    createRpcClient(AdminService, createGrpcTransport({ baseUrl: server.url, interceptors: [(next) => (req) => {
      for (const [name, value] of Object.entries(headers)) req.header.set(name, value);
      return next(req);
    }] }));

  it("lets a viewer read the fleet and every task, and act on nothing", async () => {
    const asViewer = adminAs(viewer.headers);
    await asViewer.listWorkers({});
    await asViewer.listServers({});
    await asViewer.listQueues({});
    await asViewer.countTasks({});
    await refused(asViewer.pauseQueue({ name: "default" }), Code.PermissionDenied);
    await refused(asViewer.retryTasks({ selector: { states: [TaskState.FAILED] } }), Code.PermissionDenied);
    await refused(asViewer.deleteTasks({ selector: { states: [TaskState.FAILED] } }), Code.PermissionDenied);
    const tasks = createClient({ url: server.url, headers: viewer.headers });
    await tasks.listTasks();
    await refused(tasks.submitByName("test.echo", {}), Code.PermissionDenied);
    tasks.close();
  });

  it("lets an admin act, and refuses client keys and callers without a key", async () => {
    const asAdmin = adminAs(ops.headers);
    expect((await asAdmin.pauseQueue({ name: "roles" })).queue?.paused).toBe(true);
    expect((await asAdmin.resumeQueue({ name: "roles" })).queue?.paused).toBe(false);
    await refused(adminAs(app.headers).listWorkers({}), Code.PermissionDenied);
    await refused(adminAs({}).listWorkers({}), Code.Unauthenticated);
  });
});
