/**
 * A task's context and its stored logs (issue 17), end to end on both back ends: `ctx.context`
 * set by one attempt and read by the next (a retry, and a worker process killed mid-attempt),
 * shown in `Task.context` and streamed with progress; `ctx.log` lines with fields stored,
 * paged, filtered, followed live, bounded with a dropped count and deleted with their task;
 * every bad request with its code.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { ContextTooLargeError, defineTask, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, runCli, spawnWorker, startTestServer, type TestServer } from "../support/server.js";

const QUEUE = "context-logs";

/** Saves a checkpoint on attempt 1 and fails; attempt 2 resumes from it. */
const resumable = defineTask(
  { name: "ctx.resumable", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 1, backoff: { initial: 10, jitter: 0 } },
  async (_input, ctx) => {
    const done = ctx.context.get<string[]>("steps.done") ?? [];
    if (ctx.attempt === 1) {
      ctx.context.set("steps.done", ["download"]);
      ctx.context.merge({ validation: { status: "ok", checked: 3 } });
      throw new Error("connection reset while converting");
    }
    ctx.context.set("steps.done", [...done, "convert"]);
    return { resumedWith: done, attempt: ctx.attempt };
  },
);

/** Logs `lines` lines (every third a warning) with fields, then, when `gate` is set, waits for the test's release. */
const chatty = defineTask({ name: "ctx.chatty", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 0 }, async (input, ctx) => {
  const lines = Number(input["lines"] ?? 3);
  for (let i = 1; i <= lines; i++) {
    if (i % 3 === 0) ctx.log.warn(`line ${i}`, { i, every: "third" });
    else ctx.log.info(`line ${i}`, { i });
  }
  if (input["gate"] === true) {
    await gate.promise;
    ctx.log.error("after the gate", { gate: true });
  }
  return { logged: lines };
});

/** Tries to save a context over the server's bound (`maxContextBytes` below). */
const oversized = defineTask({ name: "ctx.oversized", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 0 }, async (_input, ctx) => {
  ctx.context.set("small", "kept");
  try {
    ctx.context.set("big", "x".repeat(4096));
    return { refused: false, context: ctx.context.toJSON() };
  } catch (error) {
    return { refused: error instanceof ContextTooLargeError, context: ctx.context.toJSON() };
  }
});

/** A promise the test resolves to let a gated `ctx.chatty` go on. */
function newGate(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

let gate = newGate();

async function codeOf(call: Promise<unknown> | AsyncIterable<unknown>): Promise<Code | undefined> {
  try {
    if (Symbol.asyncIterator in call) for await (const _ of call) void _;
    else await call;
  } catch (error) {
    return ConnectError.from(error).code;
  }
  return undefined;
}

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    server = await startTestServer({ maxTaskLogLines: 10, maxContextBytes: 1024 }, undefined, backend);
    client = createClient({ url: server.url });
    worker = new Worker({ url: server.url, tasks: [resumable, chatty, oversized], queues: [QUEUE], concurrency: 4 });
    running = worker.run();
    await eventually(async () => (await client.listTypes()).filter((type) => type.name.startsWith("ctx.") && type.workerCount > 0).length === 3, 30_000, "the worker");
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    await server?.stop();
  });

  it("keeps the context across a retry: attempt 2 reads what attempt 1 set, and Task.context shows the last", async () => {
    const handle = await client.submit(resumable, {});
    const task = await handle.wait();
    expect(task.state).toBe(TaskState.SUCCEEDED);
    expect(task.attempt).toBe(2);
    expect(handle.outputOf(task)).toEqual({ resumedWith: ["download"], attempt: 2 });
    expect(task.context).toEqual({ steps: { done: ["download", "convert"] }, validation: { status: "ok", checked: 3 } });
    // StreamProgress of a finished task sends its context with the state.
    const events = [];
    for await (const event of client.streamProgress(handle.id)) events.push(event);
    expect(events.at(-1)?.context).toEqual(task.context);
    // taskwire status shows it as JSON.
    const status = await runCli(["status", handle.id, "--url", server.url]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^context: +\{.*"steps":\{"done":\["download","convert"\]\}.*\}$/m);
  });

  it("refuses a context over --max-context-bytes in the SDK, leaving it as it was", async () => {
    const handle = await client.submit(oversized, {});
    expect(await handle.result()).toEqual({ refused: true, context: { small: "kept" } });
    expect((await client.getStatus(handle.id)).context).toEqual({ small: "kept" });
  });

  it("stores every line with its attempt, level, fields and time; pages and filters them", async () => {
    const before = Date.now();
    const handle = await client.submit(chatty, { lines: 7 });
    expect((await handle.wait()).state).toBe(TaskState.SUCCEEDED);
    const all = await client.getTaskLogs(handle.id);
    expect(all.lines.map((line) => [line.attempt, line.level, line.message, line.fields])).toEqual([
      [1, "info", "line 1", { i: 1 }],
      [1, "info", "line 2", { i: 2 }],
      [1, "warn", "line 3", { i: 3, every: "third" }],
      [1, "info", "line 4", { i: 4 }],
      [1, "info", "line 5", { i: 5 }],
      [1, "warn", "line 6", { i: 6, every: "third" }],
      [1, "info", "line 7", { i: 7 }],
    ]);
    expect(all.storedCount).toBe(7n);
    expect(all.droppedCount).toBe(0n);
    expect(all.nextPageToken).toBe("");
    const first = all.lines[0]!;
    expect(Number(first.time!.seconds) * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    // Pages of 3, each after the last one's token.
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const page = await client.getTaskLogs(handle.id, { pageSize: 3, pageToken });
      pages.push(page.lines.map((line) => line.message));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(pages).toEqual([["line 1", "line 2", "line 3"], ["line 4", "line 5", "line 6"], ["line 7"]]);
    expect((await client.getTaskLogs(handle.id, { minLevel: "warn" })).lines.map((line) => line.message)).toEqual(["line 3", "line 6"]);
    expect((await client.getTaskLogs(handle.id, { attempt: 2 })).lines).toEqual([]);
    expect((await client.getTaskLogs(handle.id, { attempt: 1, minLevel: "error" })).lines).toEqual([]);
  });

  it("bounds a task's lines, counting the dropped ones", async () => {
    const handle = await client.submit(chatty, { lines: 14 });
    expect((await handle.wait()).state).toBe(TaskState.SUCCEEDED);
    const logs = await client.getTaskLogs(handle.id);
    expect(logs.lines.map((line) => line.message)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i + 1}`));
    expect(logs.storedCount).toBe(10n);
    expect(logs.droppedCount).toBe(4n);
    const cli = await runCli(["logs", handle.id, "--url", server.url]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout.split("\n").filter(Boolean)).toHaveLength(10);
    expect(cli.stderr).toContain("4 more lines were not stored");
    // --json: one object a line; --attempt and --level filter.
    const json = await runCli(["logs", handle.id, "--json", "--level", "warn", "--attempt", "1", "--url", server.url]);
    expect(json.code, json.stderr).toBe(0);
    const objects = json.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(objects.map((object) => [object["attempt"], object["level"], object["message"], object["fields"]])).toEqual([
      [1, "warn", "line 3", { i: 3, every: "third" }],
      [1, "warn", "line 6", { i: 6, every: "third" }],
      [1, "warn", "line 9", { i: 9, every: "third" }],
    ]);
    expect(objects[0]?.["sequence"]).toMatch(/^\d+$/);
    expect(objects[0]?.["time"]).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("follows a running task's lines live, then ends with its final state", async () => {
    gate = newGate();
    const handle = await client.submit(chatty, { lines: 2, gate: true });
    const seen: string[] = [];
    let finalState: TaskState | undefined;
    for await (const message of client.streamTaskLogs(handle.id)) {
      seen.push(...message.lines.map((line) => line.message));
      // The first two are stored while the task waits at the gate: open it.
      if (seen.length === 2 && message.lines.length > 0) gate.resolve();
      if (message.finalState) finalState = message.finalState;
    }
    expect(seen).toEqual(["line 1", "line 2", "after the gate"]);
    expect(finalState).toBe(TaskState.SUCCEEDED);
    // Resumed after a sequence: only what came later.
    const stored = await client.getTaskLogs(handle.id);
    const after = [];
    for await (const message of client.streamTaskLogs(handle.id, { afterSequence: stored.lines[1]!.sequence })) after.push(...message.lines.map((line) => line.message));
    expect(after).toEqual(["after the gate"]);
  });

  it("taskwire logs --follow prints the lines and says how the task ended", async () => {
    gate = newGate();
    const handle = await client.submit(chatty, { lines: 1, gate: true });
    await eventually(async () => (await client.getTaskLogs(handle.id)).lines.length === 1, 20_000, "the first line");
    const cli = runCli(["logs", handle.id, "--follow", "--url", server.url]);
    gate.resolve();
    const run = await cli;
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}#1 {2}INFO {3}line 1 {2}\{"i":1\}$/);
    expect(lines[1]).toMatch(/ {2}#1 {2}ERROR {2}after the gate {2}\{"gate":true\}$/);
    expect(run.stderr).toContain(`task ${handle.id} ended SUCCEEDED`);
  });

  it("deletes the lines with their task", async () => {
    const handle = await client.submit(chatty, { lines: 2 });
    await handle.wait();
    expect((await client.getTaskLogs(handle.id)).lines).toHaveLength(2);
    const deleted = await client.admin.deleteTasks({ ids: [handle.id] });
    expect(deleted.deleted).toBe(1n);
    expect(await codeOf(client.getTaskLogs(handle.id))).toBe(Code.NotFound);
  });

  it("refuses bad log requests with their codes", async () => {
    const handle = await client.submit(chatty, { lines: 1 });
    await handle.wait();
    expect(await codeOf(client.getTaskLogs("not-a-task"))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.getTaskLogs("0190b6b4-0000-7000-8000-000000000000"))).toBe(Code.NotFound);
    expect(await codeOf(client.getTaskLogs(handle.id, { minLevel: "loud" as "info" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.getTaskLogs(handle.id, { pageSize: 5000 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.getTaskLogs(handle.id, { pageSize: -1 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.getTaskLogs(handle.id, { pageToken: "bm9wZQ" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.getTaskLogs(handle.id, { attempt: -1 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.streamTaskLogs(handle.id, { afterSequence: -1n }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.streamTaskLogs("0190b6b4-0000-7000-8000-000000000000"))).toBe(Code.NotFound);
    expect(await codeOf(client.streamTaskLogs(handle.id, { minLevel: "loud" as "info" }))).toBe(Code.InvalidArgument);
    const cli = await runCli(["logs", handle.id, "--level", "loud", "--url", server.url]);
    expect(cli.code).toBe(2);
  });

  it("keeps the context across a worker process killed mid-attempt: the next attempt resumes from it", async () => {
    const first = spawnWorker(server.url, ["--tasks", "test/fixtures/context-tasks.ts", "--queues", "context-crash"]);
    let second: ReturnType<typeof spawnWorker> | undefined;
    try {
      // Worker processes start through tsx: slow on a loaded machine.
      await eventually(async () => (await client.listTypes()).some((type) => type.name === "test.checkpointed" && type.workerCount > 0), 90_000, "the worker process");
      const submitted = await client.submitByName("test.checkpointed", {});
      const id = submitted.id;
      // The checkpoint reaches the server (streamed with progress) before the process dies.
      for await (const event of client.streamProgress(id)) {
        if ((event.context?.["checkpoint"] as { step?: number } | undefined)?.step === 1) break;
      }
      first.kill("SIGKILL");
      await first.exited;
      second = spawnWorker(server.url, ["--tasks", "test/fixtures/context-tasks.ts", "--queues", "context-crash"]);
      const task = await client.getResult(id, "150s");
      expect(task.state).toBe(TaskState.SUCCEEDED);
      expect(task.attempt).toBe(2);
      expect(task.errors[0]?.kind).toBeDefined();
      expect(task.context).toEqual({ checkpoint: { step: 1 } });
      const logs = await client.getTaskLogs(id);
      expect(logs.lines.map((line) => [line.attempt, line.message, line.fields])).toEqual([[1, "checkpoint saved", { step: 1 }]]);
    } finally {
      first.kill("SIGKILL");
      second?.kill("SIGKILL");
      await Promise.all([first.exited, second?.exited]);
    }
  }, 300_000);
});

describe("across two servers (Redis and PostgreSQL)", () => {
  let a: TestServer;
  let b: TestServer;
  let onA: TaskwireClient;
  let onB: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    a = await startTestServer({}, undefined, "redis+postgres");
    b = await startTestServer({ redisPrefix: a.config.redisPrefix, databaseSchema: a.config.databaseSchema }, undefined, "redis+postgres");
    onA = createClient({ url: a.url });
    onB = createClient({ url: b.url });
    // The worker holds its stream on A; the follower is on B.
    worker = new Worker({ url: a.url, tasks: [chatty, resumable], queues: [QUEUE] });
    running = worker.run();
    await eventually(async () => (await onB.listTypes()).some((type) => type.name === chatty.name && type.workerCount > 0), 30_000, "the worker");
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    onA?.close();
    onB?.close();
    await b?.stop();
    await a?.stop();
  });

  it("streams the lines a worker on A sends to a follower on B, live, and the context with B's progress events", async () => {
    gate = newGate();
    const handle = await onB.submit(chatty, { lines: 2, gate: true });
    const seen: string[] = [];
    let finalState: TaskState | undefined;
    for await (const message of onB.streamTaskLogs(handle.id)) {
      seen.push(...message.lines.map((line) => line.message));
      if (seen.length === 2 && message.lines.length > 0) gate.resolve();
      if (message.finalState) finalState = message.finalState;
    }
    expect(seen).toEqual(["line 1", "line 2", "after the gate"]);
    expect(finalState).toBe(TaskState.SUCCEEDED);

    const retried = await onB.submit(resumable, {});
    const contexts = [];
    for await (const event of onB.streamProgress(retried.id)) if (event.context) contexts.push(event.context);
    expect(contexts.at(-1)).toEqual({ steps: { done: ["download", "convert"] }, validation: { status: "ok", checked: 3 } });
  });
});
