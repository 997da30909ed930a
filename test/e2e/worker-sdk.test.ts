/**
 * The TypeScript worker SDK against a real server, on both back ends: failures worth reading
 * (the stack with its causes, bounded to 16 KiB; details as a Struct; details too large
 * dropped with a note) from `GetStatus` and `taskwire status`, and a type's retention declared
 * by its definition and shown by `ListTypes`. The raw-protocol side of both (what the server
 * does with a failure or a Hello it did not get from this SDK) is in worker-protocol.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StructSchema, durationMs } from "@bufbuild/protobuf/wkt";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { utf8Length } from "../../src/core/error-bounds.js";
import { MAX_ERROR_STACK_BYTES } from "../../src/core/task-types.js";
import { defineTask, DetailedError, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, runCli, startTestServer, type TestServer } from "../support/server.js";

const QUEUE = "sdk-failures";

const declined = defineTask(
  { name: "sdk.declined", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 0, retention: "7d" },
  async (input) => {
    const gateway = new Error(`gateway answered 402 for ${String(input["order"])}`);
    throw new DetailedError("charge declined", { cause: gateway, details: { code: "card_declined", amount: 1250, tags: ["eu", "retry-later"] } });
  },
);

const deep = defineTask({ name: "sdk.deep", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 0 }, async () => {
  const error = new Error("recursion ran away");
  // 100 KiB of frames, as a runaway recursion makes them.
  error.stack = `Error: recursion ran away\n${Array.from({ length: 3200 }, (_, i) => `    at step${i} (deep.ts:${i}:1)`).join("\n")}`;
  expect(utf8Length(error.stack)).toBeGreaterThan(100 * 1024);
  throw error;
});

const bulky = defineTask({ name: "sdk.bulky", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 0 }, async () => {
  throw new DetailedError("report too large", { details: { rows: "r".repeat(20_000) } });
});

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    worker = new Worker({ url: server.url, tasks: [declined, deep, bulky], queues: [QUEUE], concurrency: 2 });
    running = worker.run();
    // Submissions of a type are refused until a worker declared it.
    await eventually(async () => (await client.listTypes()).some((type) => type.name === declined.spec.name && type.workerCount > 0), 20_000, "the worker");
  });

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    await server?.stop();
  });

  it("GetStatus returns the stack with its cause and the details as a Struct", async () => {
    const task = await (await client.submit(declined, { order: "A-17" })).wait();
    expect(task.state).toBe(TaskState.FAILED);
    const error = task.error!;
    expect(error).toMatchObject({ name: "DetailedError", message: "charge declined", retryable: true });
    expect(error.stack).toMatch(/^DetailedError: charge declined\n {4}at .*worker-sdk\.test\.ts/);
    expect(error.stack).toMatch(/\nCaused by: Error: gateway answered 402 for A-17\n {4}at /);
    expect(error.details).toEqual({ code: "card_declined", amount: 1250, tags: ["eu", "retry-later"] });
    // The same from the list of every attempt's error.
    expect(task.errors.at(-1)?.details).toEqual(error.details);
  });

  it("taskwire status shows the last error's stack under its message, and its details as JSON", async () => {
    const handle = await client.submit(declined, { order: "B-2" });
    await handle.wait();
    const run = await runCli(["status", handle.id, "--url", server.url]);
    expect(run.code, run.stderr).toBe(0);
    const errors = run.stdout.split("errors:\n")[1] ?? "";
    expect(errors).toMatch(/^ {2}attempt 1 {2}TASK_ERROR {2}DetailedError: charge declined {2}\(retryable, worker .*\)\n {8}at /);
    expect(errors).toContain("\n    Caused by: Error: gateway answered 402 for B-2\n        at ");
    // PostgreSQL's jsonb keeps an object's keys in an order of its own.
    const details = errors.split("\n    details: ")[1] ?? "";
    expect(JSON.parse(details)).toEqual({ code: "card_declined", amount: 1250, tags: ["eu", "retry-later"] });
    expect(details).toContain('\n      "code": "card_declined",');
  }, 30_000);

  it("a 100 KiB stack comes back cut to 16 KiB, its top kept", async () => {
    const task = await (await client.submit(deep, {})).wait();
    const stack = task.error?.stack ?? "";
    expect(utf8Length(stack)).toBeLessThanOrEqual(MAX_ERROR_STACK_BYTES);
    expect(stack).toMatch(/^Error: recursion ran away\n {4}at step0 \(deep\.ts:0:1\)\n {4}at step1 /);
    expect(stack).toMatch(/\n\[stack cut to 16384 of \d+ bytes\]$/);
  });

  it("details over 16 KiB are dropped with a note in the message; the failure is recorded", async () => {
    const task = await (await client.submit(bulky, {})).wait();
    expect(task.state).toBe(TaskState.FAILED);
    expect(task.error?.message).toBe("report too large [details dropped: 20011 bytes of JSON, over the limit of 16384]");
    expect(task.error?.details).toBeUndefined();
    expect(task.error?.stack).toMatch(/^DetailedError: report too large\n/);
  });

  it("ListTypes shows the retention a task definition declares, and none where it declares none", async () => {
    const types = await client.listTypes();
    const retention = types.find((t) => t.name === "sdk.declined")?.defaults?.retention;
    expect(retention && durationMs(retention)).toBe(7 * 86_400_000);
    expect(types.find((t) => t.name === "sdk.deep")?.defaults?.retention).toBeUndefined();
  });
});
