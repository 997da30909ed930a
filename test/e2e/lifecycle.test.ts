/**
 * The task lifecycle end to end: a real server, real worker processes started by the CLI, and
 * the TypeScript client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { batchItem, createClient, TaskCancelledError, TaskFailedError, TaskState, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess, BACKENDS } from "../support/server.js";

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let worker: WorkerProcess;
  let client: TaskwireClient;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    worker = spawnWorker(server.url, ["--concurrency", "8"]);
    client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((t) => t.workerCount > 0), 20_000, "the worker to connect");
  });

  afterAll(async () => {
    worker?.kill("SIGTERM");
    await worker?.exited;
    client?.close();
    await server?.stop();
  });

  describe("typed tasks", () => {
    it("runs a task with typed input and output", async () => {
      const handle = await client.submit(fixtures.factorial, { value: 25 });
      const output = await handle.result({ timeout: 10_000 });
      expect(output.value).toBe("15511210043330985984000000");
    });

    it("runs a JSON task and keeps the record", async () => {
      const handle = await client.submit(fixtures.echo, { hello: "world", n: 3 });
      const output = await handle.result({ timeout: 10_000 });
      expect(output).toMatchObject({ hello: "world", n: 3, attempt: 1, taskId: handle.id });
      const task = await handle.status();
      expect(task.state).toBe(TaskState.SUCCEEDED);
      expect(task.attempt).toBe(1);
      expect(task.startTime).toBeDefined();
      expect(task.finishTime).toBeDefined();
      expect(task.transitions.map((t) => t.state)).toEqual([TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]);
    });

    it("lists the declared types with their worker count", async () => {
      const types = await client.listTypes();
      const factorial = types.find((t) => t.name === "test.factorial");
      expect(factorial).toMatchObject({ inputType: "google.protobuf.UInt32Value", outputType: "google.protobuf.StringValue" });
      expect(factorial?.workerCount).toBe(1);
    });
  });

  describe("progress", () => {
    it("streams the current state, then live progress, and ends after the terminal state", async () => {
      const handle = await client.submit(fixtures.sleep, { ms: 600, steps: 3 });
      const events = [];
      for await (const event of handle.progress()) events.push(event);
      const last = events.at(-1);
      expect(last?.state).toBe(TaskState.SUCCEEDED);
      expect(last?.output).toBeDefined();
      const percents = events.filter((e) => e.state === TaskState.RUNNING && e.progress).map((e) => Math.round(e.progress?.percent ?? -1));
      expect(percents).toEqual(expect.arrayContaining([33, 67, 100]));
      const task = await handle.status();
      expect(task.progress?.percent).toBe(100);
      expect(task.progress?.current).toBe(3n);
      expect(task.progress?.total).toBe(3n);
    });

    it("answers a subscription to a finished task with its final state only", async () => {
      const handle = await client.submit(fixtures.echo, {});
      await handle.result({ timeout: 10_000 });
      const events = [];
      for await (const event of handle.progress()) events.push(event);
      expect(events).toHaveLength(1);
      expect(events[0]?.state).toBe(TaskState.SUCCEEDED);
    });
  });

  describe("retries", () => {
    it("retries a transient failure with back-off and keeps every attempt's error", async () => {
      const handle = await client.submit(fixtures.flaky, { failTimes: 2 });
      expect(await handle.result({ timeout: 15_000 })).toMatchObject({ attempt: 3 });
      const task = await handle.status();
      expect(task.attempt).toBe(3);
      expect(task.errors.map((e) => e.attempt)).toEqual([1, 2]);
      expect(task.errors[0]?.message).toContain("transient failure on attempt 1");
      expect(task.transitions.map((t) => t.state)).toContain(TaskState.SCHEDULED);
    });

    it("fails at once on a non-retryable error", async () => {
      const handle = await client.submit(fixtures.broken, {});
      const error = await handle.result({ timeout: 10_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskFailedError);
      const task = await handle.status();
      expect(task.state).toBe(TaskState.FAILED);
      expect(task.attempt).toBe(1);
      expect(task.errors).toHaveLength(1);
      expect(task.errors[0]?.retryable).toBe(false);
    });

    it("stops after max attempts", async () => {
      const handle = await client.submit(fixtures.flaky, { failTimes: 10 }, { maxAttempts: 2 });
      await expect(handle.result({ timeout: 15_000 })).rejects.toBeInstanceOf(TaskFailedError);
      const task = await handle.status();
      expect(task.state).toBe(TaskState.FAILED);
      expect(task.attempt).toBe(2);
      expect(task.errors).toHaveLength(2);
    });
  });

  describe("timeouts", () => {
    it("aborts the task at its deadline and fails the attempt as DEADLINE_EXCEEDED", async () => {
      const handle = await client.submit(fixtures.sleep, { ms: 20_000 }, { timeout: 300, maxAttempts: 1 });
      await expect(handle.result({ timeout: 15_000 })).rejects.toBeInstanceOf(TaskFailedError);
      const task = await handle.status();
      expect(task.state).toBe(TaskState.FAILED);
      expect(task.errors[0]?.kind).toBe(2 /* ERROR_KIND_DEADLINE_EXCEEDED */);
    });
  });

  describe("delays", () => {
    it("holds a delayed task as SCHEDULED until its time", async () => {
      const before = Date.now();
      const handle = await client.submit(fixtures.echo, { delayed: true }, { delay: "1s" });
      expect((await handle.status()).state).toBe(TaskState.SCHEDULED);
      await handle.result({ timeout: 15_000 });
      const task = await handle.status();
      const started = Number(task.startTime?.seconds ?? 0n) * 1000 + (task.startTime?.nanos ?? 0) / 1e6;
      expect(started).toBeGreaterThanOrEqual(before + 1000 - 5);
    });
  });

  describe("cancel", () => {
    it("cancels a scheduled task at once", async () => {
      const handle = await client.submit(fixtures.echo, {}, { delay: "60s" });
      const task = await handle.cancel("not needed");
      expect(task.state).toBe(TaskState.CANCELLED);
      await expect(handle.result({ timeout: 2_000 })).rejects.toBeInstanceOf(TaskCancelledError);
    });

    it("cancels a running task: its signal fires and it ends CANCELLED", async () => {
      const handle = await client.submit(fixtures.sleep, { ms: 30_000, steps: 30 });
      await eventually(async () => (await handle.status()).state === TaskState.RUNNING, 10_000, "the task to run");
      const cancelling = await handle.cancel("user asked");
      expect([TaskState.CANCELLING, TaskState.CANCELLED]).toContain(cancelling.state);
      await expect(handle.result({ timeout: 10_000 })).rejects.toBeInstanceOf(TaskCancelledError);
      expect((await handle.status()).state).toBe(TaskState.CANCELLED);
    });

    it("refuses to cancel a finished task with FAILED_PRECONDITION", async () => {
      const handle = await client.submit(fixtures.echo, {});
      await handle.result({ timeout: 10_000 });
      const error = await handle.cancel().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((error as ConnectError).message).toContain("already finished");
    });
  });

  describe("idempotency", () => {
    it("returns the same task for the same key", async () => {
      const key = `order-${Date.now()}`;
      const first = await client.submit(fixtures.echo, { n: 1 }, { idempotencyKey: key });
      const second = await client.submit(fixtures.echo, { n: 2 }, { idempotencyKey: key });
      expect(second.id).toBe(first.id);
      const listed = await client.listTasks({ type: "test.echo", pageSize: 1000 });
      expect(listed.tasks.filter((t) => t.idempotencyKey === key)).toHaveLength(1);
    });
  });

  describe("listing", () => {
    it("lists newest first with filters, pages and a total", async () => {
      const batch = await client.submitBatch(
        Array.from({ length: 5 }, (_, i) => batchItem(fixtures.echo, { i }, { queue: "listing-only" })),
      );
      expect(batch).toHaveLength(5);
      const page1 = await client.listTasks({ queue: "listing-only", pageSize: 3 });
      expect(page1.totalCount).toBe(5n);
      expect(page1.tasks).toHaveLength(3);
      expect(page1.nextPageToken).not.toBe("");
      const page2 = await client.listTasks({ queue: "listing-only", pageSize: 3, pageToken: page1.nextPageToken });
      expect(page2.tasks).toHaveLength(2);
      const ids = [...page1.tasks, ...page2.tasks].map((t) => t.id);
      expect(ids).toEqual([...ids].sort().reverse());
      const queued = await client.listTasks({ queue: "listing-only", states: [TaskState.QUEUED] });
      expect(queued.totalCount).toBe(5n);
    });
  });
});
