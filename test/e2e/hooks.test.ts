/**
 * The extension points of issue 17 against a real server, on both back ends: worker middleware
 * around real attempts (order, retries through the hooks), client interceptors (a tenant label
 * from the caller's request, the ids recorded, a refusal before anything is sent, an
 * afterSubmit error that says the task exists), and Connect interceptors given to the embedded
 * server (they see every call, may refuse one with its code, and an unexpected error is
 * INTERNAL without its message).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { JsonObject } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AfterSubmitError, batchItem, createClient, TaskState, type SubmitInterceptor, type TaskwireClient } from "../../src/client/index.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { BACKENDS, eventually, startTestServer, type TestServer } from "../support/server.js";

const QUEUE = "hooks-e2e";

describe.each(BACKENDS)("on %s", (backend) => {
  const order: string[] = [];
  const hookCalls: string[] = [];
  const procedures: string[] = [];
  const failedOnce = new Set<string>();

  const echo = defineTask(
    { name: "hooks.echo", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 2, backoff: { initial: 10, max: 10 } },
    async (input: JsonObject) => {
      order.push(`handler ${String(input["id"])}`);
      const id = String(input["id"]);
      if (input["flaky"] === true && !failedOnce.has(id)) {
        failedOnce.add(id);
        throw new Error("first attempt fails");
      }
      return { echoed: input["id"] ?? null };
    },
    {
      onSuccess: (output, ctx) => void hookCalls.push(`success ${JSON.stringify(output)} attempt ${ctx.attempt}`),
      onRetry: (error, ctx) => void hookCalls.push(`retry ${(error as Error).message} attempt ${ctx.attempt}`),
      onFailure: () => void hookCalls.push("failure"),
    },
  );

  const tenants = new AsyncLocalStorage<string>();
  const recorded: string[] = [];
  const tenantLabel: SubmitInterceptor = {
    beforeSubmit(request) {
      const tenant = tenants.getStore();
      if (tenant) request.labels["tenant"] = tenant;
      if (request.labels["refuse"] === "yes") throw new Error("refused by the caller's policy");
    },
    afterSubmit(request, task, call) {
      recorded.push(`${call.method}#${call.index} ${request.type} ${task.id}`);
      if (request.labels["audit"] === "broken") throw new Error("audit log unavailable");
    },
  };

  const recordProcedures: Interceptor = (next) => async (request) => {
    procedures.push(request.method.name);
    return next(request);
  };
  const refuseForbidden: Interceptor = (next) => async (request) => {
    if (request.method.name === "Submit" && request.header.get("x-forbidden") === "yes") {
      throw new ConnectError("this caller may not submit", Code.PermissionDenied);
    }
    if (request.method.name === "Submit" && request.header.get("x-crash") === "yes") throw new Error("secret internals");
    return next(request);
  };

  let server: TestServer;
  let client: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    server = await startTestServer({}, silentLogger(), backend, { interceptors: [recordProcedures, refuseForbidden] });
    client = createClient({ url: server.url, interceptors: [tenantLabel] });
    worker = new Worker({ url: server.url, tasks: [echo], queues: [QUEUE], concurrency: 2, logger: silentLogger() });
    worker
      .use(async (task, ctx, next) => {
        order.push(`outer before ${String((task.input as JsonObject)["id"])} attempt ${ctx.attempt}`);
        try {
          return await next();
        } finally {
          order.push("outer after");
        }
      })
      .use(async (_task, _ctx, next) => {
        order.push("inner before");
        const output = (await next()) as JsonObject;
        order.push("inner after");
        return { ...output, stamped: true };
      });
    running = worker.run();
    await eventually(async () => (await client.listTypes()).some((type) => type.name === echo.name && type.workerCount > 0), 30_000, "the worker");
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    await server?.stop();
  });

  it("runs worker middleware in registration order around the handler, and its output is the task's", async () => {
    order.length = 0;
    const handle = await client.submit(echo, { id: "m1" });
    expect(await handle.result()).toEqual({ echoed: "m1", stamped: true });
    expect(order).toEqual(["outer before m1 attempt 1", "inner before", "handler m1", "inner after", "outer after"]);
    expect(hookCalls).toContain('success {"echoed":"m1","stamped":true} attempt 1');
  });

  it("calls onRetry for a failed attempt that is retried, then onSuccess for the next", async () => {
    hookCalls.length = 0;
    const handle = await client.submit(echo, { id: "r1", flaky: true });
    await handle.result();
    const task = await client.getStatus(handle.id);
    expect(task.attempt).toBe(2);
    expect(hookCalls).toEqual(["retry first attempt fails attempt 1", 'success {"echoed":"r1","stamped":true} attempt 2']);
  });

  it("client interceptors add the caller's tenant label and see every submitted id", async () => {
    recorded.length = 0;
    const tenant = `acme-${backend}`;
    const [one, batch] = await tenants.run(tenant, async () => [
      await client.submitByName(echo.name, { id: "c1" }),
      await client.submitBatch([batchItem(echo, { id: "c2" }), batchItem(echo, { id: "c3" })]),
    ]);
    const ids = [one.id, ...batch.map((handle) => handle.id)];
    expect(recorded).toEqual([
      `submit#0 hooks.echo ${ids[0]}`,
      `submitBatch#0 hooks.echo ${ids[1]}`,
      `submitBatch#1 hooks.echo ${ids[2]}`,
    ]);
    const listed = await client.listTasks({ labels: { tenant } });
    expect(listed.tasks.map((task) => task.id).sort()).toEqual([...ids].sort());
    await Promise.all([one, ...batch].map((handle) => handle.result()));
  });

  it("a beforeSubmit that throws sends nothing; an afterSubmit that throws says the task exists", async () => {
    const before = (await client.listTasks({ labels: { refuse: "yes" } })).totalCount;
    await expect(client.submit(echo, { id: "x" }, { labels: { refuse: "yes" } })).rejects.toThrow("refused by the caller's policy");
    expect((await client.listTasks({ labels: { refuse: "yes" } })).totalCount).toBe(before);

    const error = await client.submit(echo, { id: "a1" }, { labels: { audit: "broken" } }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AfterSubmitError);
    const { tasks } = error as AfterSubmitError;
    expect(tasks).toHaveLength(1);
    expect((await client.getStatus(tasks[0]!.id)).labels).toMatchObject({ audit: "broken" });
    expect((await client.handle(tasks[0]!.id).wait()).state).toBe(TaskState.SUCCEEDED);
  });

  it("server interceptors see the calls, refuse with their code, and an unexpected error is INTERNAL without its message", async () => {
    expect(procedures).toContain("Submit");
    expect(procedures).toContain("Connect"); // the worker's stream
    const forbidden = createClient({ url: server.url, headers: { "x-forbidden": "yes" } });
    const crash = createClient({ url: server.url, headers: { "x-crash": "yes" } });
    try {
      await expect(forbidden.submit(echo, { id: "f" })).rejects.toMatchObject({ code: Code.PermissionDenied, rawMessage: "this caller may not submit" });
      const internal = await crash.submit(echo, { id: "f" }).catch((caught: unknown) => ConnectError.from(caught));
      expect(internal).toMatchObject({ code: Code.Internal, rawMessage: "internal error" });
      // Other calls go through.
      expect((await forbidden.listTypes()).some((type) => type.name === echo.name)).toBe(true);
    } finally {
      forbidden.close();
      crash.close();
    }
  });
});

describe("bad interceptors", () => {
  it("createClient refuses an interceptor without beforeSubmit or afterSubmit functions", () => {
    expect(() => createClient({ url: "http://127.0.0.1:1", interceptors: [{ beforeSubmit: "no" } as never] })).toThrow(
      "interceptors[0] must be an object with beforeSubmit and/or afterSubmit functions",
    );
    expect(() => createClient({ url: "http://127.0.0.1:1", interceptors: [{}] })).toThrow(TypeError);
  });

  it("worker.use refuses what is not a function", () => {
    const worker = new Worker({ url: "http://127.0.0.1:1", tasks: [defineTask({ name: "hooks.x", input: StructSchema, output: StructSchema }, async () => ({}))] });
    expect(() => worker.use("nope" as never)).toThrow("use() takes a middleware function (task, ctx, next) => ...");
  });
});
