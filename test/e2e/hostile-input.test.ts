/**
 * Bad input, tried deliberately (issue 3): garbage gRPC frames, oversize messages, invalid UTF-8,
 * deeply nested Struct inputs, NaN and ±Infinity, unknown enum values, empty messages to every
 * RPC, progress from a worker that does not hold the task, and a flood of StreamProgress
 * subscribers. Each gets its gRPC code and a clear message; after each the server still answers
 * health checks and submissions, and nothing was written for a refused request.
 * bad-input.test.ts and worker-protocol.test.ts hold the field-by-field refusals.
 */
import { connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, DoubleValueSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ProgressSchema, TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { ConnectRequestSchema, WorkerService, type ConnectResponse } from "../../gen/taskwire/v1/worker_service_pb.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { AsyncQueue } from "../../src/core/async-queue.js";
import { declareTypes, type Declaration } from "../support/declared-types.js";
import { eventually, startTestServer, type TestServer } from "../support/server.js";

/** Limits small enough to reach in a test; the nesting test needs inputs of about 120 KiB. */
const LIMITS = { maxMessageBytes: 256 * 1024, maxInputBytes: 200 * 1024, maxSubscribersPerTask: 4 };

let server: TestServer;
let declaration: Declaration;
let rpc: Client<typeof TaskService>;
let health: Client<typeof Health>;

beforeAll(async () => {
  server = await startTestServer(LIMITS);
  // Declared by a stream that never grants a slot: every task stays QUEUED.
  declaration = await declareTypes(
    server.url,
    [
      { name: "hostile.json", inputType: StructSchema.typeName, outputType: StructSchema.typeName },
      { name: "hostile.double", inputType: DoubleValueSchema.typeName, outputType: StructSchema.typeName },
      { name: "hostile.typed", inputType: ProgressSchema.typeName, outputType: StructSchema.typeName },
    ],
    descriptorSetOf([StructSchema, DoubleValueSchema, ProgressSchema]),
  );
  rpc = createRpcClient(TaskService, createGrpcTransport({ baseUrl: server.url }));
  health = createRpcClient(Health, createGrpcTransport({ baseUrl: server.url }));
});

afterAll(async () => {
  declaration?.close();
  await server?.stop();
});

const taskCount = async (): Promise<bigint> => (await rpc.listTasks({})).totalCount;

/** The server answers health checks SERVING and takes a normal submission. */
async function expectHealthy(): Promise<void> {
  expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  const submitted = await rpc.submit({ type: "hostile.json", input: anyPack(StructSchema, fromJson(StructSchema, { ok: true })) });
  expect(submitted.task?.state).toBe(TaskState.QUEUED);
}

/**
 * Runs a hostile call, expects it refused with `code` and a message containing `message`, then
 * checks that nothing was written and that the server is healthy. @returns the error.
 */
async function expectRefused(call: () => Promise<unknown>, code: Code, message: string): Promise<ConnectError> {
  const before = await taskCount();
  const error = await call().then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error, "the call should have been refused").toBeInstanceOf(ConnectError);
  expect({ code: Code[error!.code], message: error!.rawMessage }).toEqual({ code: Code[code], message: expect.stringContaining(message) });
  expect(await taskCount(), "nothing may be written for a refused request").toBe(before);
  await expectHealthy();
  return error!;
}

// ── Hand-made protobuf and gRPC bytes ───────────────────────────────────────────────────────

function varint(value: number | bigint): number[] {
  let n = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (n > 127n) {
    out.push(Number(n & 127n) | 128);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

/** A length-delimited field. */
function field(number: number, body: readonly number[] | Uint8Array): number[] {
  return [(number << 3) | 2, ...varint(body.length), ...body];
}

/** A gRPC length-prefixed message: flags, 4-byte big-endian length, then `payload`. */
function frame(payload: readonly number[] | Uint8Array, options: { flags?: number; length?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = options.flags ?? 0;
  head.writeUInt32BE(options.length ?? payload.length, 1);
  return Buffer.concat([head, Buffer.from(payload)]);
}

/**
 * A Struct `{"a": {"a": … {} …}}` nested `levels` deep, built as bytes without recursion: each
 * level is only a header (the entry `"a"` and the lengths), its content the next level's.
 */
function nestedStruct(levels: number): Uint8Array {
  const headers: number[][] = [];
  let inner = 0; // the byte length of the Struct inside
  for (let i = 0; i < levels; i++) {
    const value = [(5 << 3) | 2, ...varint(inner)]; // Value.struct_value
    const valueLength = value.length + inner;
    const entry = [0x0a, 0x01, 0x61, (2 << 3) | 2, ...varint(valueLength), ...value]; // key "a", value
    const header = [(1 << 3) | 2, ...varint(entry.length + inner), ...entry]; // Struct.fields entry
    headers.push(header);
    inner += header.length;
  }
  return new Uint8Array(headers.reverse().flat());
}

/** A Struct `{key: number}` whose number is written as raw double bits (NaN and ±Infinity included). */
function structWithNumber(key: string, number: number): number[] {
  const bits = Buffer.alloc(8);
  bits.writeDoubleLE(number);
  const value = [(2 << 3) | 1, ...bits]; // Value.number_value, fixed64
  return field(1, [...field(1, Buffer.from(key)), ...field(2, value)]);
}

/** What a raw gRPC call got: the HTTP status and the gRPC status (trailers, or trailers-only headers). */
interface RawAnswer {
  httpStatus: number;
  grpcStatus: number;
  grpcMessage: string;
}

/** Sends `body` as the request of `path` over a fresh h2c connection, as a gRPC client would. */
function rawGrpc(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = connect(server.url);
    session.on("error", reject);
    const request = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    let head: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    request.on("response", (h) => (head = h));
    request.on("trailers", (t) => (trailers = t));
    request.on("data", () => {});
    request.on("error", reject);
    request.on("end", () => {
      session.close();
      const status = trailers["grpc-status"] ?? head["grpc-status"];
      const message = trailers["grpc-message"] ?? head["grpc-message"] ?? "";
      resolve({ httpStatus: Number(head[":status"]), grpcStatus: Number(status), grpcMessage: decodeURIComponent(String(message)) });
    });
    request.end(body);
  });
}

/** Expects a raw call refused with `code` and `message`, nothing written, the server healthy. */
async function expectRawRefused(path: string, body: Buffer, code: Code, message: string, headers?: Record<string, string>): Promise<void> {
  const before = await taskCount();
  const answer = await rawGrpc(path, body, headers);
  expect({ httpStatus: answer.httpStatus, code: Code[answer.grpcStatus], message: answer.grpcMessage }).toEqual({
    httpStatus: 200,
    code: Code[code],
    message: expect.stringContaining(message),
  });
  expect(await taskCount(), "nothing may be written for a refused request").toBe(before);
  await expectHealthy();
}

const SUBMIT = "/taskwire.v1.TaskService/Submit";

// ── The tests ───────────────────────────────────────────────────────────────────────────────

describe("garbage as gRPC frames", () => {
  // gRPC's status codes (doc/statuscodes.md): "Error parsing request proto" is INTERNAL, a message
  // over the configured limit RESOURCE_EXHAUSTED, a request cardinality violation UNIMPLEMENTED.
  it("a well-framed message of garbage bytes: INTERNAL (gRPC's code for an unparsable request)", async () => {
    await expectRawRefused(SUBMIT, frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Code.Internal, "parse binary: premature EOF");
  });

  it("a length prefix over the message limit: RESOURCE_EXHAUSTED naming the limit", async () => {
    await expectRawRefused(SUBMIT, frame([1, 2, 3], { length: 0xffff_ffff }), Code.ResourceExhausted, "message size 4294967295 is larger than configured readMaxBytes 262144");
  });

  it("text that is no gRPC frame at all: its first bytes read as a huge length, RESOURCE_EXHAUSTED", async () => {
    await expectRawRefused(SUBMIT, Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Code.ResourceExhausted, "is larger than configured readMaxBytes 262144");
  });

  it("a frame cut short (length prefix promising more than is sent): INVALID_ARGUMENT", async () => {
    // connect-node's code; gRPC's own implementations (grpc-go, grpc-java) answer INTERNAL here.
    await expectRawRefused(SUBMIT, frame([0x0a, 0x01], { length: 100 }), Code.InvalidArgument, "protocol error: incomplete envelope");
    await expectRawRefused(SUBMIT, Buffer.from([0, 0, 0]), Code.InvalidArgument, "protocol error: incomplete envelope");
  });

  it("the compressed flag without a grpc-encoding header: INTERNAL", async () => {
    await expectRawRefused(SUBMIT, frame(field(1, Buffer.from("hostile.json")), { flags: 1 }), Code.Internal, "received compressed envelope, but do not know how to decompress");
  });

  it("an unknown grpc-encoding: UNIMPLEMENTED listing the supported ones", async () => {
    await expectRawRefused(SUBMIT, frame([], { flags: 1 }), Code.Unimplemented, 'unknown compression "brotli-9000"', { "grpc-encoding": "brotli-9000" });
  });

  it("no message, or two, for a unary method: UNIMPLEMENTED (a cardinality violation)", async () => {
    await expectRawRefused(SUBMIT, Buffer.alloc(0), Code.Unimplemented, "missing input message for unary method");
    await expectRawRefused(SUBMIT, Buffer.concat([frame([]), frame([])]), Code.Unimplemented, "received extra input message for unary method");
  });

  it("garbage on a server stream and on the worker stream: INTERNAL", async () => {
    await expectRawRefused("/taskwire.v1.TaskService/StreamProgress", frame([0xff, 0xff, 0xff]), Code.Internal, "parse binary");
    await expectRawRefused("/taskwire.v1.WorkerService/Connect", frame([0xff, 0xff, 0xff]), Code.Internal, "parse binary");
  });
});

describe("oversize messages", () => {
  it("a Submit over maxMessageBytes: RESOURCE_EXHAUSTED, nothing written", async () => {
    const input = anyPack(StructSchema, fromJson(StructSchema, { blob: "x".repeat(300 * 1024) }));
    await expectRefused(() => rpc.submit({ type: "hostile.json", input }), Code.ResourceExhausted, "is larger than configured readMaxBytes 262144");
  });

  it("a batch over maxMessageBytes, though each item is small: RESOURCE_EXHAUSTED", async () => {
    const item = { type: "hostile.json", input: anyPack(StructSchema, fromJson(StructSchema, { blob: "y".repeat(10 * 1024) })) };
    await expectRefused(() => rpc.submitBatch({ tasks: Array.from({ length: 30 }, () => item) }), Code.ResourceExhausted, "readMaxBytes 262144");
  });
});

describe("invalid UTF-8 in proto3 string fields", () => {
  // proto3 parsers must refuse strings that are not UTF-8: the request does not parse, which
  // gRPC answers with INTERNAL, the message naming the encoding.
  it.each([
    ["type", field(1, [0xff, 0xfe])],
    ["idempotency_key", [...field(1, Buffer.from("hostile.json")), ...field(9, [0x61, 0xff, 0xfe])]],
    ["queue", [...field(1, Buffer.from("hostile.json")), ...field(3, [0xc0, 0x80])]],
  ])("in %s: refused, nothing written", async (_name, bytes) => {
    await expectRawRefused(SUBMIT, frame(bytes), Code.Internal, "not valid for encoding utf-8");
  });

  it("invalid UTF-8 in a Connect/JSON body: 400 invalid_argument, not read with U+FFFD in its place", async () => {
    const before = await taskCount();
    const body = Buffer.concat([Buffer.from('{"type":"hostile.json","idempotencyKey":"k'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const response = await postJson(SUBMIT, body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: "invalid_argument", message: expect.stringContaining("not valid") });
    expect(await taskCount()).toBe(before);
    await expectHealthy();
  });

  it("control characters in an idempotency key (which PostgreSQL cannot store): INVALID_ARGUMENT", async () => {
    for (const idempotencyKey of ["key\u0000", "\u0001\u0002", "line\nbreak"]) {
      await expectRefused(() => rpc.submit({ type: "hostile.json", idempotencyKey }), Code.InvalidArgument, "idempotency_key: must be printable");
    }
  });

  it("a printable non-ASCII idempotency key is accepted and matches on resubmission", async () => {
    const first = await rpc.submit({ type: "hostile.json", idempotencyKey: "clé-✓-日本" });
    const again = await rpc.submit({ type: "hostile.json", idempotencyKey: "clé-✓-日本" });
    expect(again).toMatchObject({ existing: true, task: { id: first.task?.id } });
  });
});

describe("deeply nested Struct input", () => {
  const structInput = (bytes: Uint8Array) => ({ typeUrl: "type.googleapis.com/google.protobuf.Struct", value: bytes });

  it("10,000 levels as binary: INVALID_ARGUMENT at protobuf's recursion limit, no crash", async () => {
    const value = nestedStruct(10_000);
    expect(value.byteLength).toBeLessThan(LIMITS.maxInputBytes); // refused for its depth, not its size
    await expectRefused(
      () => rpc.submit({ type: "hostile.json", input: structInput(value) }),
      Code.InvalidArgument,
      "input: not a valid google.protobuf.Struct (cannot decode message google.protobuf.Struct from binary: maximum recursion depth of 100 reached)",
    );
  });

  it("10,000 levels as Connect/JSON: INVALID_ARGUMENT at the same limit", async () => {
    const before = await taskCount();
    const nested = "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000);
    const response = await fetch(`${server.url}${SUBMIT}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"type":"hostile.json","input":{"@type":"type.googleapis.com/google.protobuf.Struct","value":${nested}}}`,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: "invalid_argument", message: expect.stringContaining("maximum recursion depth of 100 reached") });
    expect(await taskCount()).toBe(before);
    await expectHealthy();
  });

  it("accepts nesting within the limit (49 JSON levels: 98 messages)", async () => {
    const response = await rpc.submit({ type: "hostile.json", input: structInput(nestedStruct(49)) });
    expect(response.task?.state).toBe(TaskState.QUEUED);
  });
});

describe("NaN and ±Infinity", () => {
  const struct = (bytes: number[]) => ({ typeUrl: "type.googleapis.com/google.protobuf.Struct", value: new Uint8Array(bytes) });

  it.each([
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
  ])("a Struct number that is %s: INVALID_ARGUMENT naming the member", async (_name, number) => {
    const error = await expectRefused(
      () => rpc.submit({ type: "hostile.json", input: struct(structWithNumber("score", number)) }),
      Code.InvalidArgument,
      "input.score: is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite",
    );
    expect(error.metadata.get("taskwire-reason")).toBe("INVALID_ARGUMENT");
  });

  it("a non-finite number deep in lists and objects, and in a batch: the path names it", async () => {
    // {"ok": 1, "a": {"list": [1, NaN]}}
    const bits = Buffer.alloc(8);
    bits.writeDoubleLE(NaN);
    const one = [(2 << 3) | 1, ...Buffer.from(new Float64Array([1]).buffer)];
    const list = [...field(1, one), ...field(1, [(2 << 3) | 1, ...bits])]; // ListValue.values
    const inner = field(1, [...field(1, Buffer.from("list")), ...field(2, field(6, list))]); // {"list": [...]}
    const bytes = [...structWithNumber("ok", 1), ...field(1, [...field(1, [0x61]), ...field(2, field(5, inner))])];
    await expectRefused(() => rpc.submit({ type: "hostile.json", input: struct(bytes) }), Code.InvalidArgument, "input.a.list[1]: is NaN or Infinity");
    const good = { type: "hostile.json", input: anyPack(StructSchema, fromJson(StructSchema, { n: 1 })) };
    await expectRefused(
      () => rpc.submitBatch({ tasks: [good, { type: "hostile.json", input: struct(bytes) }] }),
      Code.InvalidArgument,
      "tasks[1].input.a.list[1]: is NaN",
    );
  });

  it("a non-finite number in a Struct field of a typed input: the path names the field", async () => {
    // taskwire.v1.Progress { details (5): {"x": -Infinity} }
    const value = new Uint8Array(field(5, structWithNumber("x", -Infinity)));
    await expectRefused(
      () => rpc.submit({ type: "hostile.typed", input: { typeUrl: `type.googleapis.com/${ProgressSchema.typeName}`, value } }),
      Code.InvalidArgument,
      "input.details.x: is NaN or Infinity",
    );
  });

  it("a double field of a typed input keeps NaN: stored faithfully, shown as \"NaN\" in JSON", async () => {
    const response = await fetch(`${server.url}${SUBMIT}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "hostile.double", input: { "@type": "type.googleapis.com/google.protobuf.DoubleValue", value: "NaN" } }),
    });
    expect(response.status).toBe(200);
    const { task } = (await response.json()) as { task: { id: string } };
    const stored = await rpc.getStatus({ id: task.id });
    expect(Number.isNaN(new DataView(stored.task!.input!.value.buffer, stored.task!.input!.value.byteOffset).getFloat64(1, true))).toBe(true);
    const shown = await fetch(`${server.url}/taskwire.v1.TaskService/GetStatus`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: task.id }),
    });
    expect(await shown.json()).toMatchObject({ task: { input: { "@type": "type.googleapis.com/google.protobuf.DoubleValue", value: "NaN" } } });
  });

  it("\"NaN\" in Connect/JSON where the API takes an integer: INVALID_ARGUMENT naming the field", async () => {
    const before = await taskCount();
    const response = await fetch(`${server.url}${SUBMIT}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "hostile.json", priority: "NaN" }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: "invalid_argument", message: expect.stringContaining("taskwire.v1.SubmitRequest.priority") });
    expect(await taskCount()).toBe(before);
    await expectHealthy();
  });
});

describe("unknown enum values", () => {
  const LIST_TASKS = "/taskwire.v1.TaskService/ListTasks";

  it.each([
    ["42", 42, "states[0]: 42 is not a task state"],
    ["-1", -1, "states[0]: -1 is not a task state"],
    ["UNSPECIFIED (0)", 0, "states[0]: 0 is not a task state"],
  ])("ListTasks state %s sent as an integer: INVALID_ARGUMENT", async (_name, state, message) => {
    // ListTasksRequest.states (1), packed.
    const packed = varint(state);
    await expectRawRefused(LIST_TASKS, frame(field(1, packed)), Code.InvalidArgument, message);
  });

  it("one unknown state among known ones: INVALID_ARGUMENT naming its index", async () => {
    await expectRawRefused(LIST_TASKS, frame(field(1, [TaskState.QUEUED, TaskState.RUNNING, 99])), Code.InvalidArgument, "states[2]: 99 is not a task state");
  });

  it("an unknown state name in Connect/JSON: 400 invalid_argument, not a filter silently dropped", async () => {
    const response = await postJson(LIST_TASKS, '{"states":["TASK_STATE_QUEUED","TASK_STATE_BOGUS"]}');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: "invalid_argument", message: expect.stringContaining("TASK_STATE_BOGUS") });
    await expectHealthy();
  });

  it("an unknown field in Connect/JSON: 400 invalid_argument naming it, nothing written", async () => {
    const before = await taskCount();
    const response = await postJson(SUBMIT, '{"type":"hostile.json","notBefore":"2030-01-01T00:00:00Z"}');
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ code: "invalid_argument", message: expect.stringContaining("notBefore") });
    expect(await taskCount()).toBe(before);
    await expectHealthy();
  });
});

/** Posts a Connect/JSON unary request. */
function postJson(path: string, body: string | Uint8Array): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
}

describe("empty messages to every RPC", () => {
  it.each([
    ["Submit", Code.InvalidArgument, "type: is required"],
    ["SubmitBatch", Code.InvalidArgument, "tasks: must hold at least one task"],
    ["GetStatus", Code.InvalidArgument, "id: is required"],
    ["GetResult", Code.InvalidArgument, "id: is required"],
    ["Cancel", Code.InvalidArgument, "id: is required"],
    ["StreamProgress", Code.InvalidArgument, "id: is required"],
  ])("TaskService.%s: %s", async (method, code, message) => {
    await expectRawRefused(`/taskwire.v1.TaskService/${method}`, frame([]), code, message);
  });

  it.each(["ListTypes", "ListTasks"])("TaskService.%s: OK (every field is optional)", async (method) => {
    const answer = await rawGrpc(`/taskwire.v1.TaskService/${method}`, frame([]));
    expect({ status: answer.grpcStatus, message: answer.grpcMessage }).toEqual({ status: 0, message: "" });
  });

  it("grpc.health.v1.Health.Check: OK, SERVING", async () => {
    const answer = await rawGrpc("/grpc.health.v1.Health/Check", frame([]));
    expect(answer.grpcStatus).toBe(0);
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("WorkerService.Connect opening with an empty message: INVALID_ARGUMENT, hello comes first", async () => {
    await expectRawRefused("/taskwire.v1.WorkerService/Connect", frame([]), Code.InvalidArgument, "the first message of a worker stream must be hello");
  });
});

describe("progress for a task the worker does not hold", () => {
  type Request = MessageInitShape<typeof ConnectRequestSchema>["message"];

  /** A worker speaking the protocol by hand (see worker-protocol.test.ts). */
  function rawWorker(workerId: string, type: string) {
    const requests = new AsyncQueue<ReturnType<typeof create<typeof ConnectRequestSchema>>>();
    const send = (message: Request) => requests.push(create(ConnectRequestSchema, { message }));
    const responses = createRpcClient(WorkerService, createGrpcTransport({ baseUrl: server.url })).connect(requests)[Symbol.asyncIterator]();
    const nextOf = async <K extends NonNullable<ConnectResponse["message"]["case"]>>(kind: K) => {
      for (;;) {
        const r = await responses.next();
        if (r.done) throw new Error("stream ended");
        if (r.value.message.case === kind) return r.value.message.value as Extract<ConnectResponse["message"], { case: K }>["value"];
      }
    };
    send({
      case: "hello",
      value: {
        workerId,
        host: "test",
        queues: [type],
        slots: 1,
        types: [{ name: type, inputType: StructSchema.typeName, outputType: StructSchema.typeName }],
        descriptors: descriptorSetOf([StructSchema]),
      },
    });
    return { send, nextOf, end: () => requests.end() };
  }

  it("is ignored: subscribers never see it and the recorded progress stays the holder's", async () => {
    const type = "hostile.progress";
    const holder = rawWorker("hostile-holder", type);
    await holder.nextOf("welcome");
    const intruder = rawWorker("hostile-intruder", type);
    await intruder.nextOf("welcome");
    holder.send({ case: "grant", value: { slots: 1 } });
    const { task } = await rpc.submit({ type, queue: type });
    const [assigned] = (await holder.nextOf("assign")).tasks;
    expect(assigned?.taskId).toBe(task?.id);
    const id = assigned!.taskId;
    const attempt = assigned!.attempt;

    // The stream starts with the state PostgreSQL holds, which learns the start within 200 ms of
    // the Assign (issue 16): subscribe once it has.
    await eventually(async () => (await rpc.getStatus({ id })).task?.state === TaskState.RUNNING, 10_000, "the start to be recorded");
    const events = rpc.streamProgress({ id })[Symbol.asyncIterator]();
    const nextPercent = async (): Promise<number | undefined> => {
      const r = await events.next();
      return r.done ? undefined : r.value.progress?.percent;
    };
    expect((await events.next()).value?.state).toBe(TaskState.RUNNING);

    holder.send({ case: "progress", value: { updates: [{ taskId: id, attempt, progress: { percent: 10, message: "holder" } }] } });
    expect(await nextPercent()).toBe(10);
    // The intruder reports progress for the task (right attempt, wrong worker), then a result it
    // does not hold either; its acknowledgement comes after both were handled, in stream order.
    intruder.send({ case: "progress", value: { updates: [{ taskId: id, attempt, progress: { percent: 66, message: "intruder" } }] } });
    // The holder itself, for an attempt it does not hold.
    holder.send({ case: "progress", value: { updates: [{ taskId: id, attempt: attempt + 1, progress: { percent: 77, message: "stale" } }] } });
    intruder.send({ case: "complete", value: { results: [{ taskId: id, attempt, outcome: { case: "cancelled", value: "intruder" } }] } });
    await intruder.nextOf("completeAck");
    holder.send({ case: "progress", value: { updates: [{ taskId: id, attempt, progress: { percent: 20, message: "holder" } }] } });
    // Events of one task reach a subscriber in the order they were published.
    expect(await nextPercent()).toBe(20);

    const output = anyPack(StructSchema, fromJson(StructSchema, { ok: true }));
    holder.send({ case: "complete", value: { results: [{ taskId: id, attempt, outcome: { case: "output", value: output } }] } });
    await holder.nextOf("completeAck");
    const done = await rpc.getStatus({ id });
    expect(done.task?.state).toBe(TaskState.SUCCEEDED);
    expect(done.task?.progress).toMatchObject({ percent: 20, message: "holder" });
    holder.end();
    intruder.end();
    await expectHealthy();
  });
});

describe("a flood of StreamProgress subscribers", () => {
  /** Opens a StreamProgress stream and waits for its first event (its place is then taken). */
  async function subscribe(id: string) {
    const controller = new AbortController();
    const stream = rpc.streamProgress({ id }, { signal: controller.signal })[Symbol.asyncIterator]();
    const first = await stream.next();
    return { first, close: () => controller.abort() };
  }

  const refusal = (call: () => Promise<unknown>) => call().then(() => undefined, (e: unknown) => ConnectError.from(e));

  it("refuses subscribers beyond maxSubscribersPerTask with RESOURCE_EXHAUSTED, and ended ones free their place", async () => {
    const { task } = await rpc.submit({ type: "hostile.json" });
    const id = task!.id;
    const held = await Promise.all(Array.from({ length: LIMITS.maxSubscribersPerTask }, () => subscribe(id)));
    expect(held.map((s) => s.first.value?.state)).toEqual(Array(LIMITS.maxSubscribersPerTask).fill(TaskState.QUEUED));

    // The flood: 20 more at once, every one refused.
    const flood = await Promise.all(Array.from({ length: 20 }, () => refusal(() => subscribe(id))));
    for (const error of flood) {
      expect(error).toBeInstanceOf(ConnectError);
      expect({ code: Code[error!.code], message: error!.rawMessage }).toEqual({
        code: Code[Code.ResourceExhausted],
        message: `task ${id} already has 4 subscribers on this server, the limit set by TASKWIRE_MAX_SUBSCRIBERS_PER_TASK (--max-subscribers-per-task); try again later or poll GetStatus`,
      });
      expect(error!.metadata.get("taskwire-reason")).toBe("TOO_MANY_SUBSCRIBERS");
    }
    // A waiting GetResult holds a subscription too.
    const waiting = await refusal(() => rpc.getResult({ id, wait: { seconds: 10n } }));
    expect(waiting?.code).toBe(Code.ResourceExhausted);
    // GetResult without waiting and other tasks are not concerned.
    expect((await rpc.getResult({ id })).task?.id).toBe(id);
    const other = await rpc.submit({ type: "hostile.json" });
    const elsewhere = await subscribe(other.task!.id);
    expect(elsewhere.first.value?.taskId).toBe(other.task!.id);
    elsewhere.close();
    await expectHealthy();

    // Subscribers that leave free their places (once the server saw them go); the limit holds again.
    for (const s of held) s.close();
    const reopened = await eventually(
      async () => {
        const attempts = await Promise.allSettled(Array.from({ length: LIMITS.maxSubscribersPerTask }, () => subscribe(id)));
        const opened = attempts.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
        if (opened.length === LIMITS.maxSubscribersPerTask) return opened;
        for (const s of opened) s.close();
        return undefined;
      },
      10_000,
      "the places of closed streams to be freed",
    );
    expect((await refusal(() => subscribe(id)))?.code).toBe(Code.ResourceExhausted);
    for (const s of reopened) s.close();
    await rpc.cancel({ id });
    await expectHealthy();
  });
});
