/**
 * The worker's process pool and idle exit against a real server, on both back ends, through the
 * CLI (`taskwire worker start --processes 2`) and the SDK (`processes`, `taskModules`):
 * - a CPU-bound handler (a busy loop longer than the lease) keeps the worker's heartbeats and
 *   lease: one attempt, no error, and the other process runs a task meanwhile;
 * - a handler that kills its process fails that attempt (retryable, PoolProcessExitedError) and
 *   the next attempt runs on the process the pool started instead; the worker lives on;
 * - the task context crosses: progress, log lines, the deadline, the signal (a cancel), the
 *   parents' outputs and the saved context; a cancel ends even a busy loop (its process is killed);
 * - `--idle-exit` drains and exits with code 0 once idle;
 * - worker middleware runs around a pooled run; bad pool options are refused clearly.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { defineTask, Worker, WorkerConfigError } from "../../src/worker/index.js";
import { busy, contextual, crash, family, quick } from "../fixtures/pool-tasks.js";
import { BACKENDS, eventually, runCli, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

const POOL_TASKS = "test/fixtures/pool-tasks.ts";
const MODULE_URL = new URL("../fixtures/pool-tasks.ts", import.meta.url);

async function waitForState(client: TaskwireClient, id: string, state: TaskState): Promise<void> {
  await eventually(async () => (await client.getStatus(id)).state === state, 30_000, `task ${id} in state ${TaskState[state]}`);
}

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  let worker: WorkerProcess;

  beforeAll(async () => {
    server = await startTestServer({}, silentLogger(), backend);
    client = createClient({ url: server.url });
    worker = spawnWorker(server.url, ["--tasks", POOL_TASKS, "--processes", "2", "--queues", "pool", "--worker-id", `pool-${backend.replace("+", "-")}`]);
    await eventually(async () => (await client.listTypes()).some((type) => type.name === busy.name && type.workerCount > 0), 60_000, "the pooled worker").catch(
      (error: unknown) => {
        throw new Error(`${String(error)}; the worker wrote:\n${worker.logs}`);
      },
    );
  }, 90_000);

  afterAll(async () => {
    worker?.kill();
    await worker?.exited;
    client?.close();
    await server?.stop();
  });

  it("a CPU-bound handler keeps the worker's lease: one attempt, and the other process runs a task meanwhile", async () => {
    // 3 s leases (test/support/server.ts FAST): a busy loop of 7 s in the worker's own event
    // loop would stop its heartbeats and get it declared stalled.
    const spinning = await client.submit(busy, { ms: 7_000 });
    await waitForState(client, spinning.id, TaskState.RUNNING);
    const meanwhile = await (await client.submit(quick, { id: "meanwhile" })).wait();
    expect(meanwhile.state).toBe(TaskState.SUCCEEDED);
    expect((await client.getStatus(spinning.id)).state).toBe(TaskState.RUNNING);

    const done = await spinning.wait();
    expect(done.state).toBe(TaskState.SUCCEEDED);
    expect(done.attempt).toBe(1);
    expect(done.errors).toEqual([]);
    const output = (await spinning.result()) as JsonObject;
    expect(output["pid"]).not.toBe(worker.child.pid);
    expect(done.progress?.message).toBe("spun a lot");
    // The worker kept its one stream all along.
    const workers = await client.admin.listWorkers({ includeDisconnected: true });
    expect(workers.filter((entry) => entry.id === `pool-${backend.replace("+", "-")}`)).toHaveLength(1);
    expect(worker.logs).not.toMatch(/stream lost/);
  }, 60_000);

  it("a handler that kills its process fails one attempt, retryable; the next runs on the replacement", async () => {
    const handle = await client.submit(crash, {});
    const task = await handle.wait();
    expect(task.state).toBe(TaskState.SUCCEEDED);
    expect(task.attempt).toBe(2);
    expect(task.errors).toHaveLength(1);
    expect(task.errors[0]).toMatchObject({ name: "PoolProcessExitedError", retryable: true });
    expect(task.errors[0]?.message).toMatch(/^the pool process running this attempt \(pid \d+\) exited on SIGKILL before the attempt ended; the worker started another process$/);
    expect(((await handle.result()) as JsonObject)["attempt"]).toBe(2);
    expect(worker.child.exitCode).toBeNull();
    expect(worker.logs).toMatch(/a pool process exited on SIGKILL; starting another/);
  }, 60_000);

  it("carries the task context across: progress, log lines, the deadline, and a cancel through the signal", async () => {
    const handle = await client.submit(contextual, {});
    const output = (await handle.result()) as JsonObject;
    expect(output).toMatchObject({ attempt: 1, maxAttempts: 1, taskId: handle.id, signalIsAbortSignal: true });
    expect(output["deadline"]).toMatch(/^\d{4}-\d\d-\d\dT/);
    const task = await client.getStatus(handle.id);
    expect(task.progress).toMatchObject({ percent: 40, message: "from the pool", current: 2n, total: 5n });
    await eventually(async () => worker.logs.includes(`pooled log line of ${handle.id}`), 10_000, "the pooled log line on the worker");

    const waiting = await client.submit(contextual, { wait: true });
    await eventually(async () => (await client.getStatus(waiting.id)).progress?.message === "from the pool", 30_000, "the waiting task's progress");
    await client.cancel(waiting.id, "no longer needed");
    expect((await waiting.wait()).state).toBe(TaskState.CANCELLED);
  }, 60_000);

  it("carries ctx.parents and ctx.context across: typed parent outputs, and a checkpoint kept for the retry", async () => {
    const parent = await client.submit(quick, { id: "parent" });
    const child = await client.submit(family, {}, { dependsOn: [parent] });
    const output = (await child.result()) as JsonObject;
    expect(output).toMatchObject({ attempt: 2, parents: ["pool.quick SUCCEEDED"], parentOutput: { echoed: "parent" } });
    expect(output["checkpoint"]).toMatch(/^saved by attempt 1 in \d+$/);
    const task = await client.getStatus(child.id);
    expect(task.context).toMatchObject({ pool: { checkpoint: output["checkpoint"] } });
    expect(task.errors.map((error) => error.message)).toEqual(["failing after the checkpoint"]);
  }, 60_000);

  it("a cancel ends even a busy loop: its process is killed and replaced", async () => {
    const spinning = await client.submit(busy, { ms: 120_000 });
    await waitForState(client, spinning.id, TaskState.RUNNING);
    await client.cancel(spinning.id, "stop spinning");
    expect((await spinning.wait()).state).toBe(TaskState.CANCELLED);
    await eventually(async () => worker.logs.includes("an aborted handler did not end: killing its pool process"), 10_000, "the kill");
    // The pool is whole again: two tasks run at once.
    const [a, b] = await Promise.all([client.submit(quick, { id: "a" }), client.submit(quick, { id: "b" })]);
    expect((await a.wait()).state).toBe(TaskState.SUCCEEDED);
    expect((await b.wait()).state).toBe(TaskState.SUCCEEDED);
  }, 60_000);

  it("--idle-exit drains and exits with code 0 once idle", async () => {
    const idle = spawnWorker(server.url, ["--tasks", POOL_TASKS, "--processes", "1", "--queues", "pool-idle", "--idle-exit", "3s"]);
    try {
      await eventually(async () => (await client.admin.listWorkers({ queue: "pool-idle" })).length > 0, 60_000, "the idle-exit worker");
      const handle = await client.submitByName(quick.name, { id: "last" }, { queue: "pool-idle" });
      expect((await handle.wait()).state).toBe(TaskState.SUCCEEDED);
      expect(await idle.exited).toBe(0);
      expect(idle.logs).toMatch(/idle for 3s: draining and stopping/);
    } finally {
      idle.kill();
    }
  }, 90_000);

  it("the SDK: a pooled Worker runs its middleware around the pooled handler", async () => {
    const order: string[] = [];
    const sdkWorker = new Worker({
      url: server.url,
      tasks: [busy, crash, contextual, quick, family],
      queues: ["pool-sdk"],
      processes: 1,
      taskModules: [MODULE_URL],
      logger: silentLogger(),
    });
    sdkWorker.use(async (task, _ctx, next) => {
      order.push(`before ${task.name}`);
      const output = (await next()) as JsonObject;
      order.push(`after ${task.name} pid ${String(output["pid"])}`);
      return { ...output, wrapped: true };
    });
    const running = sdkWorker.run();
    try {
      await eventually(async () => (await client.admin.listWorkers({ queue: "pool-sdk" })).length > 0, 60_000, "the SDK worker");
      const handle = await client.submitByName(quick.name, { id: "sdk" }, { queue: "pool-sdk" });
      const output = (await handle.result()) as JsonObject;
      expect(output).toMatchObject({ echoed: "sdk", wrapped: true });
      expect(output["pid"]).not.toBe(process.pid);
      expect(order).toEqual(["before pool.quick", `after pool.quick pid ${String(output["pid"])}`]);
    } finally {
      await sdkWorker.shutdown();
      await running;
    }
  }, 90_000);
});

describe("bad pool options", () => {
  const task = defineTask({ name: "pool.unlisted", input: StructSchema, output: StructSchema }, async () => ({}));

  it("refuses processes without taskModules, out of range, and taskModules alone", () => {
    const base = { url: "http://127.0.0.1:1", tasks: [task] };
    expect(() => new Worker({ ...base, processes: 2 })).toThrow(
      new WorkerConfigError("processes needs taskModules: the modules that export the tasks, loaded in each pool process"),
    );
    expect(() => new Worker({ ...base, processes: 0, taskModules: [MODULE_URL] })).toThrow("processes must be an integer from 1 to 256, got 0");
    expect(() => new Worker({ ...base, taskModules: [MODULE_URL] })).toThrow("taskModules is only read with processes: give both, or neither");
    expect(() => new Worker({ ...base, idleExitMs: 0 })).toThrow("idleExitMs must be a duration in ms > 0, got 0");
  });

  it("run() rejects when the modules do not define a served type", async () => {
    const worker = new Worker({ url: "http://127.0.0.1:1", tasks: [task], processes: 1, taskModules: [MODULE_URL], logger: silentLogger() });
    await expect(worker.run()).rejects.toThrow(new WorkerConfigError(`the task modules ${MODULE_URL.pathname} do not define "pool.unlisted"`));
    expect(worker.state).toBe("FAILED");
  }, 60_000);

  it("the CLI refuses a bad --processes and --idle-exit", async () => {
    const processes = await runCli(["worker", "start", "--tasks", POOL_TASKS, "--processes", "0"]);
    expect(processes.code).not.toBe(0);
    expect(processes.stderr).toMatch(/--processes/);
    const idle = await runCli(["worker", "start", "--tasks", POOL_TASKS, "--idle-exit", "10"]);
    expect(idle.code).not.toBe(0);
    expect(idle.stderr).toMatch(/--idle-exit/);
    // The same settings from the environment, named when malformed.
    const fromEnv = await runCli(["worker", "start", "--tasks", POOL_TASKS], { TASKWIRE_PROCESSES: "many" });
    expect(fromEnv.code).not.toBe(0);
    expect(fromEnv.stderr).toContain('TASKWIRE_PROCESSES must be an integer from 1 to 256, got "many"');
    const idleEnv = await runCli(["worker", "start", "--tasks", POOL_TASKS], { TASKWIRE_IDLE_EXIT: "10" });
    expect(idleEnv.code).not.toBe(0);
    expect(idleEnv.stderr).toContain("TASKWIRE_IDLE_EXIT must be");
  }, 60_000);
});
