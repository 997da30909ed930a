/**
 * Every kind of bad submission gets the right gRPC code and a clear message, and nothing is
 * written for it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { anyPack, durationFromMs, Int32ValueSchema, StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { TaskState as TaskStateValue, type TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { fromJson, type JsonObject, type MessageInitShape } from "@bufbuild/protobuf";
import type { SubmitRequestSchema } from "../../gen/taskwire/v1/task_service_pb.js";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess, BACKENDS } from "../support/server.js";

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let worker: WorkerProcess;
  let rpc: Client<typeof TaskService>;

  beforeAll(async () => {
    // Small input limit so "oversize" needs no megabytes.
    server = await startTestServer({ maxInputBytes: 1024 }, undefined, backend);
    worker = spawnWorker(server.url, ["--queues", "nowhere"]);
    rpc = createRpcClient(TaskService, createGrpcTransport({ baseUrl: server.url }));
    await eventually(async () => (await rpc.listTypes({})).types.length > 0, 20_000, "the worker to declare its types");
  });

  afterAll(async () => {
    worker?.kill();
    await worker?.exited;
    await server?.stop();
  });

  const json = (value: JsonObject) => anyPack(StructSchema, fromJson(StructSchema, value));

  async function refusal(request: MessageInitShape<typeof SubmitRequestSchema>): Promise<ConnectError> {
    const before = (await rpc.listTasks({})).totalCount;
    const error = await rpc.submit(request).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error, "the request should have been refused").toBeInstanceOf(ConnectError);
    expect((await rpc.listTasks({})).totalCount, "nothing may be written for a refused request").toBe(before);
    return error as ConnectError;
  }

  describe("Submit refuses bad input", () => {
    it("an unknown task type: NOT_FOUND naming it", async () => {
      const error = await refusal({ type: "no.such.type", input: json({}) });
      expect(error.code).toBe(Code.NotFound);
      expect(error.rawMessage).toContain('"no.such.type"');
    });

    it("a malformed type name: INVALID_ARGUMENT", async () => {
      const error = await refusal({ type: "bad type!", input: json({}) });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("type");
    });

    it("an input of the wrong type: INVALID_ARGUMENT saying what was expected", async () => {
      const error = await refusal({ type: "test.factorial", input: json({ value: 3 }) });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("google.protobuf.UInt32Value");
      expect(error.rawMessage).toContain("google.protobuf.Struct");
    });

    it("an input whose bytes do not decode: INVALID_ARGUMENT", async () => {
      const error = await refusal({
        type: "test.factorial",
        input: { typeUrl: "type.googleapis.com/google.protobuf.UInt32Value", value: new Uint8Array([0x08, 0xff, 0xff]) },
      });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("not a valid google.protobuf.UInt32Value");
    });

    it("a missing input for a typed task: INVALID_ARGUMENT", async () => {
      const error = await refusal({ type: "test.factorial" });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("input: is required");
    });

    it("an oversize input: INVALID_ARGUMENT with the limit", async () => {
      const error = await refusal({ type: "test.echo", input: json({ blob: "x".repeat(2048) }) });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("the limit is 1024");
    });

    it.each([2_000_000, -2_000_000])("a priority out of range (%d): INVALID_ARGUMENT", async (priority) => {
      const error = await refusal({ type: "test.echo", input: json({}), priority });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("priority");
    });

    it("a negative delay: INVALID_ARGUMENT", async () => {
      const error = await refusal({
        type: "test.echo",
        input: json({}),
        schedule: { case: "delay", value: { seconds: -5n, nanos: 0 } },
      });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("delay: must not be negative");
    });

    it("an enormous delay: INVALID_ARGUMENT", async () => {
      const error = await refusal({
        type: "test.echo",
        input: json({}),
        schedule: { case: "delay", value: { seconds: 10n ** 12n, nanos: 0 } },
      });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("366 days");
    });

    it("a negative or zero timeout: INVALID_ARGUMENT", async () => {
      for (const timeout of [{ seconds: -1n, nanos: 0 }, durationFromMs(0)]) {
        const error = await refusal({ type: "test.echo", input: json({}), timeout });
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.rawMessage).toContain("timeout");
      }
    });

    it("a duration with nanos of the wrong sign: INVALID_ARGUMENT", async () => {
      const error = await refusal({ type: "test.echo", input: json({}), timeout: { seconds: 1n, nanos: -5 } });
      expect(error.code).toBe(Code.InvalidArgument);
    });

    it("max attempts out of range: INVALID_ARGUMENT", async () => {
      const error = await refusal({ type: "test.echo", input: json({}), maxAttempts: 0 });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("max_attempts");
    });

    it("a bad queue name: INVALID_ARGUMENT", async () => {
      const error = await refusal({ type: "test.echo", input: json({}), queue: "no spaces{}" });
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain("queue");
    });

    it("an overlong idempotency key: INVALID_ARGUMENT", async () => {
      const error = await refusal({ type: "test.echo", input: json({}), idempotencyKey: "k".repeat(201) });
      expect(error.code).toBe(Code.InvalidArgument);
    });

    it("a batch with one bad item: refused whole, naming the item", async () => {
      const before = (await rpc.listTasks({})).totalCount;
      const good: MessageInitShape<typeof SubmitRequestSchema> = { type: "test.echo", input: json({}) };
      const error = await rpc
        .submitBatch({ tasks: [good, good, { type: "test.factorial", input: anyPack(Int32ValueSchema, create(Int32ValueSchema, { value: 1 })) }] })
        .catch((e: unknown) => ConnectError.from(e));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage).toContain("tasks[2].input");
      expect((await rpc.listTasks({})).totalCount).toBe(before);
    });

    it("an empty batch: INVALID_ARGUMENT", async () => {
      const error = await rpc.submitBatch({ tasks: [] }).catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    });

    it("accepts the same request once the input is right (the checks are not over-eager)", async () => {
      const response = await rpc.submit({
        type: "test.factorial",
        input: anyPack(UInt32ValueSchema, create(UInt32ValueSchema, { value: 5 })),
      });
      expect(response.task?.id).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe("Cancel takes any reason", () => {
    it("a reason with U+0000 and a lone surrogate: the queued task is cancelled, not an INTERNAL error", async () => {
      const submitted = await rpc.submit({
        type: "test.factorial",
        input: anyPack(UInt32ValueSchema, create(UInt32ValueSchema, { value: 3 })),
      });
      const id = submitted.task?.id ?? "";
      await rpc.cancel({ id, reason: "stop\u0000now \uD800" });
      const { task } = await rpc.getStatus({ id });
      expect(task?.state).toBe(TaskStateValue.CANCELLED);
    });
  });

  describe("reads refuse bad ids", () => {
    it.each(["", "not-a-uuid", "'; drop table tasks; --"])("malformed id %j: INVALID_ARGUMENT", async (id) => {
      for (const call of [() => rpc.getStatus({ id }), () => rpc.getResult({ id }), () => rpc.cancel({ id })]) {
        const error = await call().catch((e: unknown) => ConnectError.from(e));
        expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      }
    });

    it("an unknown id: NOT_FOUND", async () => {
      const id = "01890000-0000-7000-8000-000000000000";
      for (const call of [() => rpc.getStatus({ id }), () => rpc.getResult({ id }), () => rpc.cancel({ id })]) {
        const error = await call().catch((e: unknown) => ConnectError.from(e));
        expect((error as ConnectError).code).toBe(Code.NotFound);
        expect((error as ConnectError).rawMessage).toContain(id);
      }
    });

    it("StreamProgress of an unknown id: NOT_FOUND", async () => {
      const error = await (async () => {
        for await (const _ of rpc.streamProgress({ id: "01890000-0000-7000-8000-000000000000" })) void _;
      })().catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.NotFound);
    });

    it("a forged page token and an unknown state: INVALID_ARGUMENT", async () => {
      const bad = [() => rpc.listTasks({ pageToken: "garbage" }), () => rpc.listTasks({ states: [42 as TaskState] }), () => rpc.listTasks({ pageSize: 5000 })];
      for (const call of bad) {
        const error = await call().catch((e: unknown) => ConnectError.from(e));
        expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      }
    });
  });
});
