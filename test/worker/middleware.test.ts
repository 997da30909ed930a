/**
 * Worker middleware and per-type hooks, on `runAttempt` (what a worker calls for each attempt):
 * middleware nests in registration order, may change the output or the error, skip the handler,
 * and cannot run it twice; `onSuccess`, `onRetry` and `onFailure` are called for the right
 * outcome with the attempt's context open; a hook that throws does not change the outcome.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import { unpackValue } from "../../src/common/any.js";
import type { TaskDefinition, TaskHooks } from "../../src/common/task-definition.js";
import { pino } from "pino";
import { silentLogger, type Logger } from "../../src/core/logger.js";
import { defineTask, NonRetryableError, runTask, type WorkerMiddleware } from "../../src/worker/index.js";
import { runAttempt, type AttemptEnvironment, type AttemptOutcome, type TaskLogLevel } from "../../src/worker/task-runner.js";
import { json } from "./fixtures.js";

interface Recorded {
  logs: { level: TaskLogLevel; message: string }[];
  env: AttemptEnvironment;
}

function environment(options: { attempt?: number; maxAttempts?: number; logger?: Logger } = {}): Recorded {
  const logs: Recorded["logs"] = [];
  const env: AttemptEnvironment = {
    taskId: "0190a000-0000-7000-8000-000000000001",
    attempt: options.attempt ?? 1,
    maxAttempts: options.maxAttempts ?? 3,
    deadline: undefined,
    signal: new AbortController().signal,
    logger: options.logger ?? silentLogger(),
    onProgress: () => undefined,
    onLog: (level, message) => logs.push({ level, message }),
  };
  return { logs, env };
}

function run(definition: TaskDefinition, input: JsonObject, middleware: WorkerMiddleware[], env = environment()): Promise<AttemptOutcome> {
  return runAttempt(definition, definition.name, json(input), env.env, { middleware });
}

function outputOf(outcome: AttemptOutcome): JsonObject {
  if (outcome.kind !== "output") throw new Error(`expected an output, got ${JSON.stringify(outcome)}`);
  return unpackValue(StructSchema, outcome.output) as JsonObject;
}

const echo = defineTask({ name: "mw.echo", input: StructSchema, output: StructSchema }, async (input) => ({ ...input, handled: true }));

describe("worker middleware", () => {
  it("nests in registration order: the first registered is outermost", async () => {
    const order: string[] = [];
    const named =
      (name: string): WorkerMiddleware =>
      async (_task, _ctx, next) => {
        order.push(`${name} before`);
        try {
          return await next();
        } finally {
          order.push(`${name} after`);
        }
      };
    const handler = defineTask({ name: "mw.order", input: StructSchema, output: StructSchema }, async () => {
      order.push("handler");
      return {};
    });
    await run(handler, {}, [named("first"), named("second"), named("third")]);
    expect(order).toEqual(["first before", "second before", "third before", "handler", "third after", "second after", "first after"]);
  });

  it("sees the task, its decoded input and the attempt's ctx, and sets up context the handler reads", async () => {
    const tenant = new AsyncLocalStorage<string>();
    const seen: unknown[] = [];
    const reads = defineTask({ name: "mw.tenant", input: StructSchema, output: StructSchema }, async () => ({ tenant: tenant.getStore() ?? "none" }));
    const outcome = await run(reads, { tenant: "acme" }, [
      async (task, ctx, next) => {
        seen.push(task.name, task.definition === reads, task.input, ctx.attempt);
        ctx.log.info("from middleware");
        return tenant.run(String((task.input as JsonObject)["tenant"]), next);
      },
    ]);
    expect(outputOf(outcome)).toEqual({ tenant: "acme" });
    expect(seen).toEqual(["mw.tenant", true, { tenant: "acme" }, 1]);
  });

  it("may change the output, turn an error into an output, or an output into an error", async () => {
    const changed = await run(echo, { n: 1 }, [async (_task, _ctx, next) => ({ ...((await next()) as JsonObject), stamped: "yes" })]);
    expect(outputOf(changed)).toEqual({ n: 1, handled: true, stamped: "yes" });

    const failing = defineTask({ name: "mw.failing", input: StructSchema, output: StructSchema }, async () => {
      throw new TypeError("upstream down");
    });
    const rescued = await run(failing, {}, [async (_task, _ctx, next) => next().catch(() => ({ fallback: true }))]);
    expect(outputOf(rescued)).toEqual({ fallback: true });

    const refused = await run(echo, {}, [
      async () => {
        throw new NonRetryableError("tenant suspended");
      },
    ]);
    expect(refused).toMatchObject({ kind: "failure", failure: { kind: ErrorKind.TASK_ERROR, name: "NonRetryableError", message: "tenant suspended", retryable: false } });
  });

  it("skips the handler when it does not call next(), and refuses a second next()", async () => {
    let ran = 0;
    const counted = defineTask({ name: "mw.counted", input: StructSchema, output: StructSchema }, async () => {
      ran++;
      return {};
    });
    expect(outputOf(await run(counted, {}, [async () => ({ cached: true })]))).toEqual({ cached: true });
    expect(ran).toBe(0);

    const twice = await run(counted, {}, [
      async (_task, _ctx, next) => {
        await next();
        return next();
      },
    ]);
    expect(twice).toMatchObject({ kind: "failure", failure: { message: "middleware #1 called next() twice" } });
    expect(ran).toBe(1);
  });
});

describe("task hooks", () => {
  function hooked(handler: (input: JsonObject) => Promise<JsonObject>, hooks: TaskHooks<typeof StructSchema, typeof StructSchema>) {
    return defineTask({ name: "mw.hooked", input: StructSchema, output: StructSchema }, handler, hooks);
  }

  function recorder() {
    const calls: string[] = [];
    const hooks: TaskHooks<typeof StructSchema, typeof StructSchema> = {
      onSuccess: (output, ctx, input) => {
        calls.push(`success ${JSON.stringify(output)} attempt ${ctx.attempt} input ${JSON.stringify(input)}`);
        ctx.log.info("hook ran");
      },
      onRetry: (error, ctx) => void calls.push(`retry ${(error as Error).message} attempt ${ctx.attempt}`),
      onFailure: (error, ctx) => void calls.push(`failure ${(error as Error).message} attempt ${ctx.attempt}`),
    };
    return { calls, hooks };
  }

  it("calls onSuccess with the output and the input, with ctx.log still kept", async () => {
    const { calls, hooks } = recorder();
    const env = environment();
    await run(hooked(async () => ({ ok: 1 }), hooks), { n: 2 }, [], env);
    expect(calls).toEqual(['success {"ok":1} attempt 1 input {"n":2}']);
    expect(env.logs).toEqual([{ level: "info", message: "hook ran" }]);
  });

  it("calls onRetry while attempts are left, onFailure on the last one or a non-retryable error", async () => {
    const { calls, hooks } = recorder();
    const failing = hooked(async (input) => {
      if (input["final"]) throw new NonRetryableError("bad input");
      throw new Error("flaky");
    }, hooks);
    await run(failing, {}, [], environment({ attempt: 1, maxAttempts: 3 }));
    await run(failing, {}, [], environment({ attempt: 3, maxAttempts: 3 }));
    await run(failing, { final: true }, [], environment({ attempt: 1, maxAttempts: 3 }));
    expect(calls).toEqual(["retry flaky attempt 1", "failure flaky attempt 3", "failure bad input attempt 1"]);
  });

  it("calls no hook for a cancelled attempt", async () => {
    const { calls, hooks } = recorder();
    const controller = new AbortController();
    const { CancelRequestedError } = await import("../../src/worker/errors.js");
    const env = environment();
    env.env.signal = controller.signal;
    const waits = hooked(
      (input) =>
        new Promise((_, reject) => {
          void input;
          controller.signal.addEventListener("abort", () => reject(controller.signal.reason as Error));
          controller.abort(new CancelRequestedError("user asked"));
        }),
      hooks,
    );
    expect(await run(waits, {}, [], env)).toEqual({ kind: "cancelled", reason: "user asked" });
    expect(calls).toEqual([]);
  });

  it("a hook that throws does not change the outcome: it is logged on the worker", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const throwing = hooked(async () => ({ ok: true }), {
      onSuccess: () => {
        throw new Error("metrics backend down");
      },
    });
    const outcome = await run(throwing, {}, [], environment({ logger }));
    expect(outputOf(outcome)).toEqual({ ok: true });
    const logged = lines.map((line) => JSON.parse(line) as { msg: string; hook?: string; err?: { message: string } });
    expect(logged).toContainEqual(
      expect.objectContaining({ hook: "onSuccess", msg: "the onSuccess hook of mw.hooked threw; the attempt's outcome stands", err: expect.objectContaining({ message: "metrics backend down" }) }),
    );

    const rejecting = hooked(async () => {
      throw new Error("flaky");
    }, { onRetry: () => Promise.reject(new Error("alerting down")) });
    expect(await run(rejecting, {}, [], environment({ logger }))).toMatchObject({ kind: "failure", failure: { message: "flaky", retryable: true } });
  });
});

describe("runTask with middleware and hooks", () => {
  it("runs the middleware around the handler and calls the hooks, as a worker does", async () => {
    const calls: string[] = [];
    const task = defineTask(
      { name: "mw.unit", input: StructSchema, output: StructSchema },
      async (input) => {
        calls.push("handler");
        if (input["fail"] === true) throw new Error("no luck");
        return { ok: true };
      },
      {
        onSuccess: (output) => void calls.push(`success ${JSON.stringify(output)}`),
        onRetry: (error, ctx) => void calls.push(`retry ${(error as Error).message} ${ctx.attempt}/${ctx.maxAttempts}`),
        onFailure: (error) => void calls.push(`failure ${(error as Error).message}`),
      },
    );
    const stamp: WorkerMiddleware = async (_task, _ctx, next) => {
      calls.push("before");
      return { ...((await next()) as JsonObject), stamped: true };
    };
    const { output } = await runTask(task, {}, { middleware: [stamp] });
    expect(output).toEqual({ ok: true, stamped: true });
    // onSuccess gets the attempt's output: what the outermost middleware returned.
    expect(calls).toEqual(["before", "handler", 'success {"ok":true,"stamped":true}']);

    calls.length = 0;
    await expect(runTask(task, { fail: true }, { attempt: 1, maxAttempts: 2 })).rejects.toThrow("no luck");
    await expect(runTask(task, { fail: true }, { attempt: 2, maxAttempts: 2 })).rejects.toThrow("no luck");
    await expect(runTask(task, { fail: true }, { hooks: false })).rejects.toThrow("no luck");
    expect(calls).toEqual(["handler", "retry no luck 1/2", "handler", "failure no luck", "handler"]);
  });
});
