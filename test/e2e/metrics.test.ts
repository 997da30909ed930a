/**
 * `GET /metrics` end to end, on both back ends: tasks that succeed, fail for good, fail then
 * succeed on a retry, and are cancelled while waiting, run by a real worker process; the
 * server's counters must then agree with `AdminService.CountTasks` (by state and by type), and
 * the worker's own endpoint (`--metrics-port`) with what it ran. On Redis + PostgreSQL also the
 * endpoint's API key (`TASKWIRE_METRICS_AUTH`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService, CountGroup } from "../../gen/taskwire/v1/admin_service_pb.js";
import { batchItem, createClient, TaskState, taskStateName, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { testKey } from "../support/keys.js";
import { scrape, total, type Sample } from "../support/metrics.js";
import { BACKENDS, eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

/** A queue no worker serves: its tasks wait, to be cancelled or counted as depth. */
const PARKING = "metrics-parking";

describe.each(BACKENDS)("metrics on %s", (backend) => {
  let server: TestServer;
  let worker: WorkerProcess;
  let client: TaskwireClient;
  let admin: Client<typeof AdminService>;
  let workerMetricsUrl: string;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    worker = spawnWorker(server.url, ["--concurrency", "4", "--metrics-port", "0"]);
    client = createClient({ url: server.url });
    admin = createRpcClient(AdminService, createGrpcTransport({ baseUrl: server.url }));
    await eventually(async () => (await admin.listWorkers({})).workers.length === 1, 60_000, "the worker to connect");
    const port = /http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(worker.logs)?.[1];
    expect(port, worker.logs).toBeDefined();
    workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  }, 120_000);

  afterAll(async () => {
    worker?.kill("SIGTERM");
    await worker?.exited;
    client?.close();
    await server?.stop();
  }, 60_000);

  it("counts what the store holds: submitted, started, finished by outcome, per type and queue", async () => {
    const echoes = await client.submitBatch(Array.from({ length: 20 }, (_, n) => batchItem(fixtures.echo, { n })));
    const broken = await client.submitBatch(Array.from({ length: 5 }, (_, n) => batchItem(fixtures.broken, { n })));
    const flaky = await client.submitBatch(Array.from({ length: 3 }, (_, n) => batchItem(fixtures.flaky, { n, failTimes: 1 })));
    const parked = await client.submitBatch(Array.from({ length: 4 }, (_, n) => batchItem(fixtures.echo, { n }, { queue: PARKING })));
    // An idempotent resubmission stores nothing and counts nothing.
    const once = await client.submit(fixtures.echo, { again: true }, { idempotencyKey: `metrics-${backend}` });
    await client.submit(fixtures.echo, { again: true }, { idempotencyKey: `metrics-${backend}` });
    for (const handle of parked.slice(0, 2)) await client.cancel(handle.id);
    await Promise.all([...echoes, ...broken, ...flaky, once].map((handle) => handle.wait({ timeout: 60_000 })));

    const samples = await scrape(`${server.url}/metrics`);
    const counts = await admin.countTasks({ groupBy: [CountGroup.TYPE] });
    const stored = (state: TaskState, type?: string) =>
      counts.counts.filter((c) => c.state === state && (type === undefined || c.type === type)).reduce((sum, c) => sum + Number(c.count), 0);

    expect(total(samples, "taskwire_tasks_submitted_total")).toBe(Number(counts.total));
    expect(Number(counts.total)).toBe(20 + 5 + 3 + 4 + 1);
    for (const state of [TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED]) {
      const outcome = taskStateName(state).toLowerCase();
      expect(total(samples, "taskwire_tasks_finished_total", { outcome }), outcome).toBe(stored(state));
      for (const type of [fixtures.echo, fixtures.broken, fixtures.flaky].map((t) => t.spec.name)) {
        expect(total(samples, "taskwire_tasks_finished_total", { outcome, type }), `${outcome} ${type}`).toBe(stored(state, type));
      }
    }
    expect(stored(TaskState.SUCCEEDED)).toBe(20 + 3 + 1);
    expect(stored(TaskState.FAILED)).toBe(5);
    expect(stored(TaskState.CANCELLED)).toBe(2);
    expect(total(samples, "taskwire_tasks_submitted_total", { type: fixtures.echo.spec.name, queue: PARKING })).toBe(4);

    // Attempts: every flaky task ran twice.
    const started = 20 + 5 + 3 * 2 + 1;
    expect(total(samples, "taskwire_tasks_started_total")).toBe(started);
    expect(total(samples, "taskwire_attempts_finished_total")).toBe(started);
    expect(total(samples, "taskwire_attempts_finished_total", { result: "task_error" })).toBe(5 + 3);
    expect(total(samples, "taskwire_tasks_retried_total", { type: fixtures.flaky.spec.name })).toBe(3);
    expect(total(samples, "taskwire_task_run_duration_seconds_count")).toBe(started);
    expect(total(samples, "taskwire_task_queue_wait_seconds_count", { type: fixtures.echo.spec.name })).toBe(21);
    expect(total(samples, "taskwire_task_run_duration_seconds_bucket", { type: fixtures.echo.spec.name, le: "+Inf" })).toBe(21);

    // The fleet as this server sees it, and the index's depth.
    expect(total(samples, "taskwire_workers_connected")).toBe(1);
    expect(total(samples, "taskwire_worker_slots")).toBe(4);
    expect(total(samples, "taskwire_queue_depth", { queue: PARKING, state: "queued" })).toBe(2);
    expect(total(samples, "taskwire_queue_depth", { queue: "default", state: "queued" })).toBe(0);
    expect(total(samples, "taskwire_dispatch_claim_duration_seconds_count")).toBeGreaterThan(0);
    expect(total(samples, "taskwire_dispatch_claimed_total")).toBe(started);
    expect(total(samples, "taskwire_backend_errors_total")).toBe(0);
    expect(samples.some((s) => s.name === "process_cpu_seconds_total")).toBe(true);
    // No task or worker id in any label.
    const ids = new Set([...echoes, ...broken].map((h) => h.id));
    expect(samples.flatMap((s: Sample) => Object.values(s.labels)).filter((value) => ids.has(value))).toEqual([]);
  }, 120_000);

  it("serves the worker's own series on --metrics-port", async () => {
    const samples = await scrape(workerMetricsUrl);
    expect(total(samples, "taskwire_worker_attempts_total", { type: fixtures.echo.spec.name, result: "succeeded" })).toBe(21);
    expect(total(samples, "taskwire_worker_attempts_total", { type: fixtures.broken.spec.name, result: "task_error" })).toBe(5);
    expect(total(samples, "taskwire_worker_attempts_total", { type: fixtures.flaky.spec.name })).toBe(6);
    expect(total(samples, "taskwire_worker_attempt_duration_seconds_count")).toBe(32);
    expect(total(samples, "taskwire_worker_slots")).toBe(4);
    expect(total(samples, "taskwire_worker_connected")).toBe(1);
  });

  it("counts the open progress subscriptions", async () => {
    const [parked] = await client.submitBatch([batchItem(fixtures.echo, { follow: true }, { queue: PARKING })]);
    const follower = new AbortController();
    const iterator = parked.progress({ signal: follower.signal })[Symbol.asyncIterator]();
    await iterator.next(); // the first event: the subscription is open
    expect(total(await scrape(`${server.url}/metrics`), "taskwire_progress_subscribers")).toBe(1);
    follower.abort();
    await iterator.next().catch(() => undefined);
    await eventually(async () => total(await scrape(`${server.url}/metrics`), "taskwire_progress_subscribers") === 0, 15_000, "the subscription to close");
  }, 60_000);
});

describe("metrics behind an API key", () => {
  const viewer = testKey("prometheus", "viewer");
  const admin = testKey("ops", "admin");
  const clientKey = testKey("app", "client");
  let keyed: TestServer;
  let open: TestServer;

  beforeAll(async () => {
    const apiKeys = [viewer, admin, clientKey].map((key) => key.env).join(",");
    keyed = await startTestServer({ apiKeys });
    open = await startTestServer({ apiKeys, metricsAuth: "off" });
  }, 120_000);

  afterAll(async () => {
    await keyed?.stop();
    await open?.stop();
  }, 60_000);

  it("needs a viewer or admin key when the server checks keys", async () => {
    const url = `${keyed.url}/metrics`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.text()).toContain("viewer or admin");
    expect((await fetch(url, { headers: clientKey.headers })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: "Bearer tw_not-a-key" } })).status).toBe(401);
    expect(total(await scrape(url, viewer.headers), "taskwire_workers_connected")).toBe(0);
    expect((await fetch(url, { headers: admin.headers })).status).toBe(200);
    expect((await fetch(url, { method: "POST", headers: admin.headers })).status).toBe(405);
  });

  it("is open with TASKWIRE_METRICS_AUTH=off, while the API still needs keys", async () => {
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    const response = await fetch(`${open.url}/taskwire.v1.TaskService/ListTypes`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(401);
  });
});
