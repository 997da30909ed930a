/**
 * The worker protocol seen from a hand-written worker: refusals of bad streams, slots, and
 * fencing of late, duplicate and foreign reports.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromJson, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack, FileDescriptorSetSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ConnectRequestSchema,
  WorkerService,
  type ConnectResponse,
} from "../../gen/taskwire/v1/worker_service_pb.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { AsyncQueue } from "../../src/core/async-queue.js";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { eventually, startTestServer, type TestServer, BACKENDS } from "../support/server.js";

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  type Request = MessageInitShape<typeof ConnectRequestSchema>["message"];

  /** A worker speaking the protocol by hand. */
  function rawWorker(workerId: string, options: { slots?: number; type?: string } = {}) {
    const requests = new AsyncQueue<ReturnType<typeof create<typeof ConnectRequestSchema>>>();
    const send = (message: Request) => requests.push(create(ConnectRequestSchema, { message }));
    const rpc = createRpcClient(WorkerService, createGrpcTransport({ baseUrl: server.url }));
    const responses = rpc.connect(requests)[Symbol.asyncIterator]();
    const next = async (): Promise<ConnectResponse["message"]> => {
      const r = await responses.next();
      if (r.done) throw new Error("stream ended");
      return r.value.message;
    };
    /** The next message of a kind, skipping others (acks, heartbeats). */
    const nextOf = async <K extends NonNullable<ConnectResponse["message"]["case"]>>(kind: K) => {
      for (;;) {
        const m = await next();
        if (m.case === kind) return m.value as Extract<ConnectResponse["message"], { case: K }>["value"];
      }
    };
    const hello = (overrides: Record<string, unknown> = {}): Request => ({
      case: "hello",
      value: {
        workerId,
        host: "test",
        queues: [`raw-${workerId}`],
        slots: options.slots ?? 1,
        types: [{ name: options.type ?? "raw.echo", inputType: StructSchema.typeName, outputType: StructSchema.typeName }],
        descriptors: descriptorSetOf([StructSchema]),
        ...overrides,
      },
    });
    return { send, next, nextOf, hello, end: () => requests.end() };
  }

  const output = anyPack(StructSchema, fromJson(StructSchema, { ok: true }));

  describe("stream refusals", () => {
    it("refuses a stream that does not open with hello: INVALID_ARGUMENT", async () => {
      const w = rawWorker("no-hello");
      w.send({ case: "heartbeat", value: {} });
      const error = await w.next().catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage).toContain("first message");
    });

    it("refuses descriptors that do not hold the declared messages: INVALID_ARGUMENT", async () => {
      const w = rawWorker("bad-descriptors");
      const types = [{ name: "raw.missing", inputType: "shapes.v1.Polygon", outputType: StructSchema.typeName }];
      w.send(w.hello({ types, descriptors: create(FileDescriptorSetSchema) }));
      const error = await w.next().catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage).toContain('message "shapes.v1.Polygon" is not in the descriptors sent with Hello');
    });

    it("refuses zero slots and empty queues: INVALID_ARGUMENT", async () => {
      for (const overrides of [{ slots: 0 }, { queues: [] }, { types: [] }]) {
        const w = rawWorker("bad-hello");
        w.send(w.hello(overrides));
        const error = await w.next().catch((e: unknown) => ConnectError.from(e));
        expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      }
    });

    it("refuses a second stream with a worker id that is connected: ALREADY_EXISTS", async () => {
      const first = rawWorker("twin");
      first.send(first.hello());
      await first.nextOf("welcome");
      const second = rawWorker("twin");
      second.send(second.hello());
      const error = await second.next().catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.AlreadyExists);
      first.end();
    });
  });

  describe("slots and fencing", () => {
    it("assigns into granted slots only, even when the worker grants more than it has", async () => {
      const w = rawWorker("greedy", { slots: 1, type: "raw.greedy" });
      w.send(w.hello());
      await w.nextOf("welcome");
      w.send({ case: "grant", value: { slots: 5 } });
      const handles = await Promise.all([1, 2, 3].map(() => client.submitByName("raw.greedy", {}, { queue: "raw-greedy" })));
      const first = await w.nextOf("assign");
      expect(first.tasks).toHaveLength(1);
      // PostgreSQL learns the start lazily (issue 16): within 200 ms the one assigned task reads RUNNING.
      const statuses = await eventually(async () => {
        const all = await Promise.all(handles.map((h) => h.status()));
        return all.some((t) => t.state === TaskState.RUNNING) ? all : undefined;
      }, 10_000, "the assigned task to read RUNNING");
      expect(statuses.filter((t) => t.state === TaskState.RUNNING)).toHaveLength(1);
      expect(statuses.filter((t) => t.state === TaskState.QUEUED)).toHaveLength(2);
      // Completing frees the slot; the worker grants it again and gets the next task.
      const task = first.tasks[0]!;
      w.send({ case: "complete", value: { results: [{ taskId: task.taskId, attempt: task.attempt, outcome: { case: "output", value: output } }] } });
      w.send({ case: "grant", value: { slots: 1 } });
      const second = await w.nextOf("assign");
      expect(second.tasks).toHaveLength(1);
      expect(second.tasks[0]?.taskId).not.toBe(task.taskId);
      w.end();
    });

    it("ignores late, duplicate and foreign reports; only the current attempt counts", async () => {
      const w = rawWorker("fenced", { type: "raw.fenced" });
      w.send(w.hello());
      await w.nextOf("welcome");
      w.send({ case: "grant", value: { slots: 1 } });
      const handle = await client.submitByName("raw.fenced", { n: 1 }, { queue: "raw-fenced" });
      const { tasks } = await w.nextOf("assign");
      const assigned = tasks[0]!;
      expect(assigned.taskId).toBe(handle.id);

      // A report for another attempt, and one for a task the worker never held.
      const stale = { taskId: assigned.taskId, attempt: assigned.attempt + 1, outcome: { case: "output" as const, value: output } };
      const foreign = { taskId: "01890000-0000-7000-8000-000000000001", attempt: 1, outcome: { case: "output" as const, value: output } };
      w.send({ case: "progress", value: { updates: [{ taskId: foreign.taskId, attempt: 1, progress: { percent: 50 } }] } });
      w.send({ case: "complete", value: { results: [stale, foreign] } });
      const ack1 = await w.nextOf("completeAck");
      expect(ack1.tasks.map((t) => t.taskId).sort()).toEqual([assigned.taskId, foreign.taskId].sort());
      // Still running (its start reaches PostgreSQL within 200 ms: issue 16), the stale reports ignored.
      const running = await eventually(async () => {
        const t = await handle.status();
        return t.state !== TaskState.QUEUED ? t : undefined;
      }, 10_000, "the start to be recorded");
      expect(running.state).toBe(TaskState.RUNNING);
      expect(running.attempt).toBe(assigned.attempt);

      // The real result, then the same result again.
      const real = { taskId: assigned.taskId, attempt: assigned.attempt, outcome: { case: "output" as const, value: output } };
      w.send({ case: "complete", value: { results: [real] } });
      await w.nextOf("completeAck");
      const done = await handle.status();
      expect(done.state).toBe(TaskState.SUCCEEDED);
      const failure = { case: "failure" as const, value: { message: "late failure", retryable: true } };
      w.send({ case: "complete", value: { results: [{ ...real, outcome: failure }] } });
      await w.nextOf("completeAck");
      const after = await handle.status();
      expect(after.state).toBe(TaskState.SUCCEEDED);
      expect(after.errors).toHaveLength(0);
      expect(toBinary(StructSchema, fromJson(StructSchema, { ok: true }))).toEqual(after.output?.value);
      w.end();
    });

    it("requeues the attempts of a stream that closes, counting them", async () => {
      const w = rawWorker("leaver", { type: "raw.leaver" });
      w.send(w.hello());
      await w.nextOf("welcome");
      w.send({ case: "grant", value: { slots: 1 } });
      const handle = await client.submitByName("raw.leaver", {}, { queue: "raw-leaver" });
      await w.nextOf("assign");
      w.end();
      const task = await eventually(async () => {
        const t = await handle.status();
        return (t.state === TaskState.QUEUED || t.state === TaskState.SCHEDULED) && t.errors.length > 0 ? t : undefined;
      }, 10_000, "the task to go back");
      expect(task.attempt).toBe(1);
      expect(task.errors[0]?.message).toContain("stream closed");
      await handle.cancel();
    });

    it("closes the stream of a worker that stops sending heartbeats, and requeues its attempts", async () => {
      const w = rawWorker("stalled", { type: "raw.stalled" });
      w.send(w.hello());
      await w.nextOf("welcome");
      w.send({ case: "grant", value: { slots: 1 } });
      const handle = await client.submitByName("raw.stalled", {}, { queue: "raw-stalled" });
      const { tasks } = await w.nextOf("assign");
      // Silence: no heartbeat. The server ends the stream once the lease timeout passed.
      const error = await (async () => {
        for (;;) await w.next();
      })().catch((e: unknown) => ConnectError.from(e));
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(error.rawMessage).toContain("no heartbeat");
      const task = await eventually(async () => {
        const t = await handle.status();
        return (t.state === TaskState.QUEUED || t.state === TaskState.SCHEDULED) && t.errors.length > 0 ? t : undefined;
      }, 10_000, "the task to go back");
      expect(task.errors[0]?.attempt).toBe(tasks[0]?.attempt);
      await handle.cancel();
    });
  });

  describe("failures and declared retention", () => {
    it("cuts a failure's huge stack to 16 KiB and drops oversize details with a note; the stream goes on", async () => {
      const w = rawWorker("big-failure", { type: "raw.big" });
      w.send(w.hello());
      await w.nextOf("welcome");
      w.send({ case: "grant", value: { slots: 1 } });
      const first = await client.submitByName("raw.big", {}, { queue: "raw-big-failure" });
      const [assigned] = (await w.nextOf("assign")).tasks;
      // 1 MiB: a top line, then frames of 3-byte characters (a cut must not split one), and a
      // NUL, which PostgreSQL's jsonb cannot hold.
      const stack = `Error: runaway\u0000\n${"    at f€€€ (x.ts:1:1)\n".repeat(40_000)}`;
      expect(Buffer.byteLength(stack)).toBeGreaterThan(1024 * 1024);
      const failure = { kind: 1, name: "Error", message: "runaway", retryable: false, stack, details: { blob: "b".repeat(20_000) } };
      w.send({ case: "complete", value: { results: [{ taskId: assigned!.taskId, attempt: assigned!.attempt, outcome: { case: "failure", value: failure } }] } });
      await w.nextOf("completeAck");
      const failed = await first.status();
      expect(failed.state).toBe(TaskState.FAILED);
      const error = failed.error!;
      expect(Buffer.byteLength(error.stack)).toBeLessThanOrEqual(16 * 1024);
      expect(error.stack.startsWith("Error: runaway\uFFFD\n    at f€€€ (x.ts:1:1)\n")).toBe(true);
      expect(error.stack).toMatch(/\(x\.ts:1:1\)\n\[stack cut to 16384 of \d+ bytes\]$/);
      expect(error.stack.lastIndexOf("\uFFFD")).toBe("Error: runaway".length); // the NUL's; no character split
      expect(error.message).toBe("runaway [details dropped: 20011 bytes of JSON, over the limit of 16384]");
      expect(error.details).toBeUndefined();

      // The same stream takes and reports the next task.
      w.send({ case: "grant", value: { slots: 1 } });
      const second = await client.submitByName("raw.big", {}, { queue: "raw-big-failure" });
      const [next] = (await w.nextOf("assign")).tasks;
      expect(next?.taskId).toBe(second.id);
      const small = { message: "small", retryable: false, details: { code: 7, nested: { ok: true } } };
      w.send({ case: "complete", value: { results: [{ taskId: next!.taskId, attempt: next!.attempt, outcome: { case: "failure", value: small } }] } });
      await w.nextOf("completeAck");
      expect((await second.status()).error).toMatchObject({ message: "small", stack: "", details: { code: 7, nested: { ok: true } } });
      w.end();
    });

    it("refuses a declared retention under a minute: INVALID_ARGUMENT naming the field", async () => {
      const w = rawWorker("short-retention");
      const types = [{ name: "raw.short", inputType: StructSchema.typeName, outputType: StructSchema.typeName, defaults: { retention: { seconds: 1n } } }];
      w.send(w.hello({ types }));
      const error = await w.next().catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage).toBe("hello.types[0].defaults.retention: must be from 1 minute to 3650 days, got 1s");
    });

    it("keeps a declared retention and shows it in ListTypes", async () => {
      const w = rawWorker("long-retention");
      const types = [{ name: "raw.kept", inputType: StructSchema.typeName, outputType: StructSchema.typeName, defaults: { retention: { seconds: 3650n * 86_400n } } }];
      w.send(w.hello({ types }));
      await w.nextOf("welcome");
      const kept = (await client.listTypes()).find((t) => t.name === "raw.kept");
      expect(kept?.defaults?.retention?.seconds).toBe(3650n * 86_400n);
      w.end();
    });
  });
});
