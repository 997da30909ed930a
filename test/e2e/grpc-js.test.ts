/**
 * Proof that a standard gRPC client works: `@grpc/grpc-js` with the `.proto` files loaded at
 * run time by `@grpc/proto-loader` (no generated code), against a real server and a real worker
 * process. Every RPC of `taskwire.v1.TaskService` is called at least once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { create, fromBinary, fromJson, toBinary, toJson, type JsonObject } from "@bufbuild/protobuf";
import { StringValueSchema, StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { eventually, ROOT, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

// The shapes proto-loader gives with { keepCase: false, longs: String, enums: String,
// defaults: true, oneofs: true }: camelCase fields, int64 as strings, enums by name, unset
// messages as null. Only the fields these tests read are declared.
//
// google.protobuf.Any keeps its proto field name `type_url` even with keepCase false:
// proto-loader takes the well-known types from protobufjs's bundled JSON descriptors, which
// the camelCase conversion does not touch. That is how every grpc-js user sees it.
interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}
interface ProgressMessage {
  percent: number;
  message: string;
  current: string;
  total: string;
}
interface TaskErrorMessage {
  attempt: number;
  kind: string;
  message: string;
}
interface TaskMessage {
  id: string;
  type: string;
  queue: string;
  priority: number;
  state: string;
  input: AnyMessage | null;
  output: AnyMessage | null;
  error: TaskErrorMessage | null;
  attempt: number;
  progress: ProgressMessage | null;
  transitions: { state: string; attempt: number }[];
  scheduleTime: { seconds: string; nanos: number } | null;
  finishTime: { seconds: string; nanos: number } | null;
}
interface TaskTypeMessage {
  name: string;
  inputType: string;
  outputType: string;
  workerCount: number;
}
interface StreamEvent {
  taskId: string;
  state: string;
  attempt: number;
  progress: ProgressMessage | null;
  output: AnyMessage | null;
  error: TaskErrorMessage | null;
}
interface DurationInit {
  seconds: string | number;
  nanos?: number;
}
interface SubmitRequest {
  type: string;
  input?: AnyMessage;
  queue?: string;
  priority?: number;
  delay?: DurationInit;
  idempotencyKey?: string;
}

type Callback<T> = (error: grpc.ServiceError | null, response?: T) => void;
type UnaryMethod<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<Res>) => grpc.ClientUnaryCall;
type StreamMethod<Req, Res> = (request: Req, metadata?: grpc.Metadata, options?: grpc.CallOptions) => grpc.ClientReadableStream<Res>;

/** A safety net so a hung call fails the test instead of hanging it; no assertion depends on it. */
const CALL_DEADLINE_MS = 25_000;

const packageDefinition = protoLoader.loadSync(["taskwire/v1/task_service.proto"], {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [`${ROOT}proto`],
});
const loaded = grpc.loadPackageDefinition(packageDefinition);
const TaskServiceClient = ((loaded["taskwire"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject)["TaskService"] as grpc.ServiceClientConstructor;

let server: TestServer;
let worker: WorkerProcess;
let client: grpc.Client & { [method: string]: unknown };

function unary<Req, Res>(name: string): (request: Req, options?: grpc.CallOptions) => Promise<Res> {
  return (request, options = {}) =>
    new Promise<Res>((resolve, reject) => {
      const method = client[name] as UnaryMethod<Req, Res>;
      method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS, ...options }, (error, response) => {
        if (error) reject(error);
        else resolve(response as Res);
      });
    });
}

const rpc = {
  submit: unary<SubmitRequest, { task: TaskMessage; existing: boolean }>("Submit"),
  submitBatch: unary<{ tasks: SubmitRequest[] }, { tasks: { id: string; state: string; existing: boolean }[] }>("SubmitBatch"),
  getStatus: unary<{ id: string }, { task: TaskMessage }>("GetStatus"),
  getResult: unary<{ id: string; wait?: DurationInit }, { task: TaskMessage }>("GetResult"),
  cancel: unary<{ id: string; reason?: string }, { task: TaskMessage }>("Cancel"),
  listTypes: unary<Record<string, never>, { types: TaskTypeMessage[] }>("ListTypes"),
  listTasks: unary<
    { states?: string[]; type?: string; queue?: string; pageSize?: number; pageToken?: string },
    { tasks: TaskMessage[]; nextPageToken: string; totalCount: string }
  >("ListTasks"),
  streamProgress(request: { id: string }): grpc.ClientReadableStream<StreamEvent> {
    const method = client["StreamProgress"] as StreamMethod<{ id: string }, StreamEvent>;
    return method.call(client, request, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS });
  },
};

/** An Any holding a google.protobuf.Struct, as a gRPC client in any language would build it. */
function structAny(value: JsonObject): AnyMessage {
  return { type_url: "type.googleapis.com/google.protobuf.Struct", value: toBinary(StructSchema, fromJson(StructSchema, value)) };
}

function decodeStruct(any: AnyMessage | null): unknown {
  expect(any?.type_url).toBe("type.googleapis.com/google.protobuf.Struct");
  return toJson(StructSchema, fromBinary(StructSchema, any?.value ?? new Uint8Array()));
}

/** Waits for a terminal state through GetResult's server-side wait. */
async function waitResult(id: string): Promise<TaskMessage> {
  const { task } = await rpc.getResult({ id, wait: { seconds: "20" } });
  return task;
}

/** The ServiceError of a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<grpc.ServiceError> {
  const outcome = await call.then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  expect("error" in outcome, `the call should have failed, got ${JSON.stringify("response" in outcome ? outcome.response : null)}`).toBe(true);
  return (outcome as { error: grpc.ServiceError }).error;
}

beforeAll(async () => {
  server = await startTestServer();
  worker = spawnWorker(server.url, ["--concurrency", "8"]);
  client = new TaskServiceClient(`127.0.0.1:${new URL(server.url).port}`, grpc.credentials.createInsecure());
  await eventually(async () => (await rpc.listTypes({})).types.some((t) => t.workerCount > 0), 20_000, "the worker to connect");
});

afterAll(async () => {
  client?.close();
  worker?.kill("SIGTERM");
  await worker?.exited;
  await server?.stop();
});

describe("a @grpc/grpc-js client with the .proto files", () => {
  it("ListTypes: lists the fixture types with their messages and worker count", async () => {
    const { types } = await rpc.listTypes({});
    const names = types.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(["test.echo", "test.factorial", "test.sleep", "test.flaky", "test.broken", "test.record"]));
    const factorial = types.find((t) => t.name === "test.factorial");
    expect(factorial).toMatchObject({
      inputType: "google.protobuf.UInt32Value",
      outputType: "google.protobuf.StringValue",
      workerCount: 1,
    });
    expect(types.find((t) => t.name === "test.echo")).toMatchObject({ inputType: "google.protobuf.Struct", outputType: "google.protobuf.Struct" });
  });

  it("Submit + GetStatus + GetResult: a JSON task (Struct input) runs and its output decodes", async () => {
    const { task, existing } = await rpc.submit({ type: "test.echo", input: structAny({ hello: "grpc-js", n: 7 }) });
    expect(existing).toBe(false);
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(task.type).toBe("test.echo");
    expect(task.state).toBe("TASK_STATE_QUEUED");
    expect(task.queue).toBe("default");
    expect(decodeStruct(task.input)).toEqual({ hello: "grpc-js", n: 7 });

    const status = (await rpc.getStatus({ id: task.id })).task;
    expect(status.id).toBe(task.id);
    expect(["TASK_STATE_QUEUED", "TASK_STATE_RUNNING", "TASK_STATE_SUCCEEDED"]).toContain(status.state);

    const done = await waitResult(task.id);
    expect(done.state).toBe("TASK_STATE_SUCCEEDED");
    expect(done.attempt).toBe(1);
    expect(done.error).toBeNull();
    expect(done.finishTime).not.toBeNull();
    expect(done.transitions.map((t) => t.state)).toEqual(["TASK_STATE_QUEUED", "TASK_STATE_RUNNING", "TASK_STATE_SUCCEEDED"]);
    expect(decodeStruct(done.output)).toEqual({ hello: "grpc-js", n: 7, attempt: 1, taskId: task.id });

    const after = (await rpc.getStatus({ id: task.id })).task;
    expect(after.state).toBe("TASK_STATE_SUCCEEDED");
  });

  it("Submit + GetResult: a typed task (UInt32Value in, StringValue out)", async () => {
    const input = toBinary(UInt32ValueSchema, create(UInt32ValueSchema, { value: 10 }));
    const { task } = await rpc.submit({ type: "test.factorial", input: { type_url: "type.googleapis.com/google.protobuf.UInt32Value", value: input } });
    expect(task.input?.type_url).toBe("type.googleapis.com/google.protobuf.UInt32Value");
    const done = await waitResult(task.id);
    expect(done.state).toBe("TASK_STATE_SUCCEEDED");
    expect(done.output?.type_url).toBe("type.googleapis.com/google.protobuf.StringValue");
    expect(fromBinary(StringValueSchema, done.output?.value ?? new Uint8Array()).value).toBe("3628800");
  });

  it("GetResult without wait answers at once with the current state", async () => {
    const { task } = await rpc.submit({ type: "test.echo", input: structAny({}), delay: { seconds: "60" } });
    const now = (await rpc.getResult({ id: task.id })).task;
    expect(now.state).toBe("TASK_STATE_SCHEDULED");
    expect(now.output).toBeNull();
    await rpc.cancel({ id: task.id });
  });

  it("SubmitBatch: submits many tasks in one call, in order, and they all run", async () => {
    const { tasks } = await rpc.submitBatch({
      tasks: [
        { type: "test.echo", input: structAny({ i: 0 }) },
        { type: "test.echo", input: structAny({ i: 1 }) },
        { type: "test.factorial", input: { type_url: "type.googleapis.com/google.protobuf.UInt32Value", value: toBinary(UInt32ValueSchema, create(UInt32ValueSchema, { value: 5 })) } },
      ],
    });
    expect(tasks).toHaveLength(3);
    expect(tasks.map((t) => t.state)).toEqual(["TASK_STATE_QUEUED", "TASK_STATE_QUEUED", "TASK_STATE_QUEUED"]);
    expect(tasks.map((t) => t.existing)).toEqual([false, false, false]);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(3);

    const done = await Promise.all(tasks.map((t) => waitResult(t.id)));
    expect(done.map((t) => t.state)).toEqual(["TASK_STATE_SUCCEEDED", "TASK_STATE_SUCCEEDED", "TASK_STATE_SUCCEEDED"]);
    expect(done.map((t) => t.type)).toEqual(["test.echo", "test.echo", "test.factorial"]);
    expect(decodeStruct(done[0]?.output ?? null)).toMatchObject({ i: 0 });
    expect(decodeStruct(done[1]?.output ?? null)).toMatchObject({ i: 1 });
    expect(fromBinary(StringValueSchema, done[2]?.output?.value ?? new Uint8Array()).value).toBe("120");
  });

  it("StreamProgress: the current state, then live progress, then SUCCEEDED, then the stream ends", async () => {
    const { task } = await rpc.submit({ type: "test.sleep", input: structAny({ ms: 600, steps: 3 }) });
    const events: StreamEvent[] = [];
    // The async iterator completes only when the server ends the stream.
    for await (const event of rpc.streamProgress({ id: task.id })) events.push(event as StreamEvent);

    expect(events.every((e) => e.taskId === task.id)).toBe(true);
    const first = events[0];
    expect(["TASK_STATE_QUEUED", "TASK_STATE_RUNNING"]).toContain(first?.state);

    const progress = events.filter((e) => e.state === "TASK_STATE_RUNNING" && e.progress !== null && e.progress.message !== "");
    expect(progress.map((e) => Math.round(e.progress?.percent ?? -1))).toEqual(expect.arrayContaining([33, 67, 100]));
    expect(progress.map((e) => e.progress?.message)).toEqual(expect.arrayContaining(["step 1 of 3", "step 2 of 3", "step 3 of 3"]));
    const lastStep = progress.find((e) => e.progress?.message === "step 3 of 3");
    expect(lastStep?.progress).toMatchObject({ current: "3", total: "3" });

    const last = events.at(-1);
    expect(last?.state).toBe("TASK_STATE_SUCCEEDED");
    expect(decodeStruct(last?.output ?? null)).toMatchObject({ slept: 600 });
    expect(events.filter((e) => e.state === "TASK_STATE_SUCCEEDED")).toHaveLength(1);
  });

  it("StreamProgress of a finished task: its final state only", async () => {
    const { task } = await rpc.submit({ type: "test.echo", input: structAny({}) });
    await waitResult(task.id);
    const events: StreamEvent[] = [];
    for await (const event of rpc.streamProgress({ id: task.id })) events.push(event as StreamEvent);
    expect(events.map((e) => e.state)).toEqual(["TASK_STATE_SUCCEEDED"]);
  });

  it("Cancel: a delayed task ends CANCELLED at once", async () => {
    const { task } = await rpc.submit({ type: "test.echo", input: structAny({ later: true }), delay: { seconds: "60" } });
    expect(task.state).toBe("TASK_STATE_SCHEDULED");
    const cancelled = (await rpc.cancel({ id: task.id, reason: "not needed" })).task;
    expect(cancelled.id).toBe(task.id);
    expect(cancelled.state).toBe("TASK_STATE_CANCELLED");
    expect((await rpc.getStatus({ id: task.id })).task.state).toBe("TASK_STATE_CANCELLED");
  });

  it("Cancel: a finished task is refused with FAILED_PRECONDITION", async () => {
    const { task } = await rpc.submit({ type: "test.echo", input: structAny({}) });
    expect((await waitResult(task.id)).state).toBe("TASK_STATE_SUCCEEDED");
    const error = await refusal(rpc.cancel({ id: task.id }));
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toBe(`task ${task.id} already finished (SUCCEEDED); it cannot be cancelled`);
    expect(error.metadata.get("taskwire-reason")).toEqual(["TASK_FINISHED"]);
    expect((await rpc.getStatus({ id: task.id })).task.state).toBe("TASK_STATE_SUCCEEDED");
  });

  it("ListTasks: filters by state, queue and type, newest first, pages, with a total count", async () => {
    // No worker serves this queue, so the tasks stay QUEUED.
    const queue = "grpc-js-listing";
    const { tasks: submitted } = await rpc.submitBatch({
      tasks: [0, 1, 2, 3].map((i) => ({ type: "test.echo", input: structAny({ i }), queue })),
    });
    const scheduled = await rpc.submit({ type: "test.echo", input: structAny({}), queue, delay: { seconds: "60" } });

    const queued = await rpc.listTasks({ queue, states: ["TASK_STATE_QUEUED"] });
    expect(queued.totalCount).toBe("4");
    expect(queued.tasks.map((t) => t.id)).toEqual(submitted.map((t) => t.id).reverse());
    expect(queued.tasks.every((t) => t.state === "TASK_STATE_QUEUED" && t.queue === queue)).toBe(true);

    const both = await rpc.listTasks({ queue, states: ["TASK_STATE_QUEUED", "TASK_STATE_SCHEDULED"], pageSize: 3 });
    expect(both.totalCount).toBe("5");
    expect(both.tasks).toHaveLength(3);
    expect(both.tasks[0]?.id).toBe(scheduled.task.id);
    expect(both.nextPageToken).not.toBe("");
    const page2 = await rpc.listTasks({ queue, states: ["TASK_STATE_QUEUED", "TASK_STATE_SCHEDULED"], pageSize: 3, pageToken: both.nextPageToken });
    expect(page2.tasks).toHaveLength(2);
    expect(page2.nextPageToken).toBe("");

    const none = await rpc.listTasks({ queue, states: ["TASK_STATE_SUCCEEDED"] });
    expect(none.totalCount).toBe("0");
    expect(none.tasks).toEqual([]);

    expect((await rpc.listTasks({ queue, type: "test.echo" })).totalCount).toBe("5");
    expect((await rpc.listTasks({ queue, type: "test.factorial" })).totalCount).toBe("0");
  });
});

describe("bad requests over grpc-js get the right status and a clear message", () => {
  it("an unknown task type: NOT_FOUND naming it", async () => {
    const error = await refusal(rpc.submit({ type: "no.such.type", input: structAny({}) }));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toContain('task type "no.such.type" is not known: no worker has declared it');
    expect(error.metadata.get("taskwire-reason")).toEqual(["TASK_TYPE_NOT_FOUND"]);
  });

  it("an input of the wrong type: INVALID_ARGUMENT saying what was expected", async () => {
    const error = await refusal(rpc.submit({ type: "test.factorial", input: structAny({ value: 3 }) }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe('input: task type "test.factorial" takes google.protobuf.UInt32Value, got google.protobuf.Struct');
  });

  it("a bad item refuses the whole batch: INVALID_ARGUMENT naming the item", async () => {
    const before = (await rpc.listTasks({ queue: "grpc-js-refused" })).totalCount;
    const error = await refusal(
      rpc.submitBatch({
        tasks: [
          { type: "test.echo", input: structAny({}), queue: "grpc-js-refused" },
          { type: "test.echo", input: structAny({}), queue: "grpc-js-refused", priority: 1_000_001 },
        ],
      }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe("tasks[1].priority: must be from -1000000 to 1000000, got 1000001");
    expect((await rpc.listTasks({ queue: "grpc-js-refused" })).totalCount).toBe(before);
  });

  it("a malformed id: INVALID_ARGUMENT", async () => {
    const error = await refusal(rpc.getStatus({ id: "not-a-uuid" }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe('id: "not-a-uuid" is not a task id (a UUID)');
  });

  it("an unknown id: NOT_FOUND, for unary calls and for StreamProgress", async () => {
    const id = "01890000-0000-7000-8000-000000000000";
    const error = await refusal(rpc.getStatus({ id }));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toBe(`task ${id} does not exist`);

    const cancelError = await refusal(rpc.cancel({ id }));
    expect(cancelError.code).toBe(grpc.status.NOT_FOUND);

    const streamError = await refusal(
      (async () => {
        for await (const event of rpc.streamProgress({ id })) void event;
      })(),
    );
    expect(streamError.code).toBe(grpc.status.NOT_FOUND);
    expect(streamError.details).toContain("does not exist");
  });
});
