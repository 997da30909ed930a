import { create, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import {
  anyPack,
  anyUnpack,
  StringValueSchema,
  StructSchema,
  UInt32ValueSchema,
  type StringValue,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, expectTypeOf, it } from "vitest";
import { ErrorKind, TaskErrorSchema, TaskSchema, TaskState, type Task } from "../../gen/taskwire/v1/task_pb.js";
import { TaskService, type SubmitRequest } from "../../gen/taskwire/v1/task_service_pb.js";
import { defineTask } from "../../src/common/task-definition.js";
import {
  batchItem,
  createClient,
  ResultTimeoutError,
  TaskCancelledError,
  TaskFailedError,
  type TaskHandle,
} from "../../src/client/index.js";

const factorial = defineTask(
  { name: "test.factorial", input: UInt32ValueSchema, output: StringValueSchema },
  async ({ value }) => ({ value: String(value) }),
);

/** An in-memory TaskService: each task answers GetResult with the states queued in `script`. */
function fakeServer(script: Record<string, Task[]> = {}) {
  const submitted: SubmitRequest[] = [];
  const headers: (string | null)[] = [];
  let next = 0;
  const impl: Partial<ServiceImpl<typeof TaskService>> = {
    submit(request, ctx) {
      submitted.push(request);
      headers.push(ctx.requestHeader.get("authorization"));
      return { task: create(TaskSchema, { id: `t${++next}`, type: request.type, state: TaskState.QUEUED }) };
    },
    submitBatch(request) {
      submitted.push(...request.tasks);
      return { tasks: request.tasks.map(() => ({ id: `t${++next}`, state: TaskState.QUEUED })) };
    },
    getStatus(request) {
      throw new ConnectError(`task ${request.id} not found`, Code.NotFound);
    },
    getResult(request) {
      const states = script[request.id] ?? [];
      const task = states.length > 1 ? states.shift() : states[0];
      if (!task) throw new ConnectError(`task ${request.id} not found`, Code.NotFound);
      return { task };
    },
    async *streamProgress(request) {
      for (const percent of [0, 50, 100]) {
        yield { taskId: request.id, state: percent === 100 ? TaskState.SUCCEEDED : TaskState.RUNNING, progress: { percent } };
      }
    },
  };
  const transport = createRouterTransport(({ service }) => service(TaskService, impl));
  return { transport, submitted, headers };
}

const task = (id: string, state: TaskState, init: Partial<Omit<Task, "$typeName">> = {}): Task =>
  create(TaskSchema, { id, type: "test.factorial", state, ...init });

describe("TaskwireClient", () => {
  it("packs a typed input and decodes the typed output", async () => {
    const output = anyPack(StringValueSchema, create(StringValueSchema, { value: "120" }));
    const server = fakeServer({
      t1: [task("t1", TaskState.RUNNING), task("t1", TaskState.SUCCEEDED, { output })],
    });
    const client = createClient({ url: "http://unused", transport: server.transport });
    const handle = await client.submit(factorial, { value: 5 }, { priority: 7, delay: "10s" });
    expectTypeOf(handle).toEqualTypeOf<TaskHandle<typeof StringValueSchema>>();

    const request = server.submitted[0];
    expect(request?.type).toBe("test.factorial");
    expect(request && anyUnpack(request.input!, UInt32ValueSchema)?.value).toBe(5);
    expect(request?.priority).toBe(7);
    expect(request?.schedule).toMatchObject({ case: "delay", value: { seconds: 10n } });

    const result = await handle.result();
    expectTypeOf(result).toEqualTypeOf<StringValue>();
    expect(result.value).toBe("120");
  });

  it("sends JSON by name as a Struct and returns JSON", async () => {
    const output = anyPack(StructSchema, create(StructSchema, { fields: {} }));
    const server = fakeServer({ t1: [task("t1", TaskState.SUCCEEDED, { output })] });
    const client = createClient({ url: "http://unused", transport: server.transport, headers: { authorization: "Bearer x" } });
    const handle = await client.submitByName("examples.process_data", { count: 3, items: [1, "a"] });
    expect(server.headers).toEqual(["Bearer x"]);
    const input = server.submitted[0]?.input;
    expect(input?.typeUrl).toBe("type.googleapis.com/google.protobuf.Struct");
    const result = await handle.result();
    expectTypeOf(result).toEqualTypeOf<JsonValue>();
    expect(result).toEqual({});
  });

  it("throws TaskFailedError with every attempt's error", async () => {
    const errors = [1, 2].map((attempt) =>
      create(TaskErrorSchema, { attempt, kind: ErrorKind.TASK_ERROR, name: "Error", message: `boom ${attempt}` }),
    );
    const server = fakeServer({ t1: [task("t1", TaskState.FAILED, { attempt: 2, errors, error: errors[1] })] });
    const client = createClient({ url: "http://unused", transport: server.transport });
    const error = await client.handle("t1").result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskFailedError);
    expect((error as TaskFailedError).errors.map((e) => e.message)).toEqual(["boom 1", "boom 2"]);
    expect((error as TaskFailedError).message).toBe("task t1 (test.factorial) failed after 2 attempts: Error: boom 2");
  });

  it("throws TaskCancelledError for a cancelled task", async () => {
    const server = fakeServer({ t1: [task("t1", TaskState.CANCELLED)] });
    const client = createClient({ url: "http://unused", transport: server.transport });
    await expect(client.handle("t1", factorial).result()).rejects.toBeInstanceOf(TaskCancelledError);
  });

  it("gives up after the timeout with ResultTimeoutError", async () => {
    const server = fakeServer({ t1: [task("t1", TaskState.RUNNING)] });
    const client = createClient({ url: "http://unused", transport: server.transport });
    const error = await client.handle("t1").result({ timeout: "300ms" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResultTimeoutError);
    expect((error as ResultTimeoutError).task.state).toBe(TaskState.RUNNING);
  });

  it("lets server errors through with their code", async () => {
    const client = createClient({ url: "http://unused", transport: fakeServer().transport });
    const error = await client.getStatus("nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("streams progress until the terminal event", async () => {
    const client = createClient({ url: "http://unused", transport: fakeServer().transport });
    const percents: number[] = [];
    for await (const event of client.handle("t1").progress()) percents.push(event.progress?.percent ?? -1);
    expect(percents).toEqual([0, 50, 100]);
  });

  it("submits a batch and types each handle by its item", async () => {
    const server = fakeServer();
    const client = createClient({ url: "http://unused", transport: server.transport });
    const [typed, untyped] = await client.submitBatch([
      batchItem(factorial, { value: 3 }, { queue: "math" }),
      { type: "examples.flaky", input: { failTimes: 1 } },
    ]);
    expectTypeOf(typed).toEqualTypeOf<TaskHandle<typeof StringValueSchema>>();
    expectTypeOf(untyped).toEqualTypeOf<TaskHandle<DescMessage>>();
    expect([typed.id, untyped.id]).toEqual(["t1", "t2"]);
    expect(server.submitted.map((r) => [r.type, r.queue])).toEqual([
      ["test.factorial", "math"],
      ["examples.flaky", ""],
    ]);
  });

  it("refuses delay together with runAt before calling the server", async () => {
    const server = fakeServer();
    const client = createClient({ url: "http://unused", transport: server.transport });
    const input: JsonObject = {};
    await expect(client.submitByName("x", input, { delay: 1000, runAt: new Date() })).rejects.toThrow(RangeError);
    expect(server.submitted).toEqual([]);
  });
});
