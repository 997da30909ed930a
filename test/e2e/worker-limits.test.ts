/**
 * The bounds of what a worker may send (issue 15, "Resource limits"): a Hello is bounded before
 * any SQL or descriptor work (types, descriptor bytes) and its descriptor set is stored once;
 * progress and logs are bounded in size and rate per worker, and out-of-range timestamps are
 * refused item by item, the stream going on; outputs must be messages of the declared output
 * type. Limits are set small here so that a test reaches them; the README's "Security" lists
 * their settings and defaults.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromJson } from "@bufbuild/protobuf";
import { anyPack, FileDescriptorSetSchema, StructSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { pino } from "pino";
import postgres from "postgres";
import { Code as RpcCode } from "../../gen/google/rpc/code_pb.js";
import { ReportKind, type RefusedItem } from "../../gen/taskwire/v1/worker_service_pb.js";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { TEST_DATABASE_URL } from "../support/database.js";
import { hello, rawWorker, refusal, type RawWorker } from "../support/raw-worker.js";
import { startTestServer, type TestServer } from "../support/server.js";

const LIMITS = {
  maxHelloTypes: 5,
  maxDescriptorBytes: 64 * 1024,
  maxProgressBytes: 1024,
  maxProgressRate: 20,
  maxLogLineBytes: 512,
  maxLogRate: 4096,
  maxContextBytes: 256,
};

/** The server's log lines (JSON): task lines are not among them (they are stored). */
const logLines: Record<string, unknown>[] = [];
const logger = pino(
  { level: "info" },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split("\n").filter(Boolean)) {
        const line = JSON.parse(text) as Record<string, unknown>;
        logLines.push(line);
      }
      done();
    },
  }),
);

let server: TestServer;
let client: TaskwireClient;

beforeAll(async () => {
  server = await startTestServer(LIMITS, logger);
  client = createClient({ url: server.url });
});

afterAll(async () => {
  client?.close();
  await server?.stop();
});

const structType = (name: string) => ({ name, inputType: StructSchema.typeName, outputType: StructSchema.typeName });

/** A worker holding one task of its own type, assigned and running. */
async function holding(name: string): Promise<{ w: RawWorker; id: string; attempt: number }> {
  const w = rawWorker(server.url);
  w.send(hello(`limits-${name}`, `limits-${name}`, [structType(`limits.${name}`)]));
  await w.nextOf("welcome");
  w.beat();
  w.send({ case: "grant", value: { slots: 1 } });
  const handle = await client.submitByName(`limits.${name}`, {}, { queue: `limits-${name}` });
  const [task] = (await w.nextOf("assign")).tasks;
  expect(task?.taskId).toBe(handle.id);
  return { w, id: handle.id, attempt: task!.attempt };
}

/** Refused items until `count` items of `report` were refused (they may come in several messages). */
async function refusedItems(w: RawWorker, report: ReportKind, count: number): Promise<RefusedItem[]> {
  const items: RefusedItem[] = [];
  while (items.filter((i) => i.report === report).reduce((n, i) => n + i.count, 0) < count) {
    items.push(...(await w.nextOf("refused")).items);
  }
  return items;
}

const okOutput = anyPack(StructSchema, fromJson(StructSchema, { ok: true }));

/** Completes the held task with `output` and waits for the acknowledgement. */
async function complete(w: RawWorker, id: string, attempt: number, output = okOutput): Promise<void> {
  w.send({ case: "complete", value: { results: [{ taskId: id, attempt, outcome: { case: "output", value: output } }] } });
  await w.nextOf("completeAck");
}

describe("Hello, bounded before any other work", () => {
  it("refuses more task types than maxHelloTypes: RESOURCE_EXHAUSTED naming the setting, nothing declared", async () => {
    const w = rawWorker(server.url);
    const types = Array.from({ length: 6 }, (_, i) => structType(`limits.many${i}`));
    w.send(hello("limits-many", "limits-many", types));
    const error = await refusal(w.next());
    expect({ code: Code[error.code], message: error.rawMessage }).toEqual({
      code: Code[Code.ResourceExhausted],
      message: "hello.types: 6 task types, over the 5 one Hello may declare (TASKWIRE_MAX_HELLO_TYPES (--max-hello-types)); serve them from several workers",
    });
    expect(error.metadata.get("taskwire-reason")).toBe("TOO_MANY_TASK_TYPES");
    expect((await client.listTypes()).filter((t) => t.name.startsWith("limits.many"))).toEqual([]);
  });

  it("refuses a descriptor set over maxDescriptorBytes: RESOURCE_EXHAUSTED, nothing declared", async () => {
    const w = rawWorker(server.url);
    const big = create(FileDescriptorSetSchema, {
      file: [...descriptorSetOf([StructSchema]).file, { name: "padding.proto", sourceCodeInfo: { location: [{ leadingComments: "x".repeat(70 * 1024) }] } }],
    });
    w.send(hello("limits-big", "limits-big", [structType("limits.big")], big));
    const error = await refusal(w.next());
    expect(Code[error.code]).toBe(Code[Code.ResourceExhausted]);
    expect(error.rawMessage).toMatch(/^hello\.descriptors: \d+ bytes, over the 65536 one Hello may carry \(TASKWIRE_MAX_DESCRIPTOR_BYTES \(--max-descriptor-bytes\)\)/);
    expect(error.metadata.get("taskwire-reason")).toBe("DESCRIPTORS_TOO_LARGE");
    expect((await client.listTypes()).some((t) => t.name === "limits.big")).toBe(false);
  });

  it("stores one descriptor set for all the types of a Hello", async () => {
    const w = rawWorker(server.url);
    w.send(hello("limits-shared", "limits-shared", Array.from({ length: 5 }, (_, i) => structType(`limits.shared${i}`))));
    await w.nextOf("welcome");
    expect((await client.listTypes()).filter((t) => t.name.startsWith("limits.shared"))).toHaveLength(5);
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ sets: number; hashes: number }[]>`
        select (select count(*)::int from ${sql(server.config.databaseSchema)}.descriptor_sets) as sets,
               (select count(distinct descriptor_set)::int from ${sql(server.config.databaseSchema)}.task_types where name like 'limits.shared%') as hashes`;
      expect(row).toEqual({ sets: 1, hashes: 1 });
    } finally {
      await sql.end();
    }
    w.end();
  });
});

describe("progress, bounded per update and per worker", () => {
  it("refuses an update over maxProgressBytes: RESOURCE_EXHAUSTED in Refused, the stream goes on", async () => {
    const { w, id, attempt } = await holding("progress-size");
    w.send({ case: "progress", value: { updates: [{ taskId: id, attempt, progress: { percent: 10, message: "m".repeat(2000) } }] } });
    await complete(w, id, attempt);
    expect((await client.getStatus(id)).progress).toBeUndefined();
    const [item] = await refusedItems(w, ReportKind.PROGRESS, 1);
    expect(item).toMatchObject({ taskId: id, attempt, code: RpcCode.RESOURCE_EXHAUSTED, count: 1 });
    expect(item?.message).toMatch(/^progress is \d+ bytes, over the 1024 set by TASKWIRE_MAX_PROGRESS_BYTES \(--max-progress-bytes\); update dropped$/);
    // The same stream goes on: the next task's small progress is kept.
    w.send({ case: "grant", value: { slots: 1 } });
    const next = await client.submitByName("limits.progress-size", {}, { queue: "limits-progress-size" });
    const [again] = (await w.nextOf("assign")).tasks;
    w.send({ case: "progress", value: { updates: [{ taskId: next.id, attempt: again!.attempt, progress: { percent: 30, message: "small" } }] } });
    await complete(w, next.id, again!.attempt);
    expect((await client.getStatus(next.id)).progress).toMatchObject({ percent: 30, message: "small" });
    w.end();
  });

  it("refuses updates over maxProgressRate a second: the first ones count, the rest are refused, grouped", async () => {
    const { w, id, attempt } = await holding("progress-rate");
    const updates = Array.from({ length: 50 }, (_, i) => ({ taskId: id, attempt, progress: { percent: i + 1 } }));
    w.send({ case: "progress", value: { updates } });
    await complete(w, id, attempt);
    expect((await client.getStatus(id)).progress?.percent).toBe(20);
    const items = await refusedItems(w, ReportKind.PROGRESS, 30);
    expect(items).toEqual([
      expect.objectContaining({
        taskId: id,
        code: RpcCode.RESOURCE_EXHAUSTED,
        count: 30,
        message: "progress over 20 updates a second from this worker, the limit set by TASKWIRE_MAX_PROGRESS_RATE (--max-progress-rate); update dropped",
      }),
    ]);
    w.end();
  });

  it("refuses an out-of-range update_time and a percent over 100 per update: INVALID_ARGUMENT, the attempt goes on", async () => {
    const { w, id, attempt } = await holding("progress-time");
    w.send({
      case: "progress",
      value: {
        updates: [
          { taskId: id, attempt, progress: { percent: 5, updateTime: { seconds: 1_000_000_000_000_000n } } },
          { taskId: id, attempt, progress: { percent: 150 } },
          { taskId: id, attempt, progress: { percent: 40, updateTime: timestampFromMs(Date.UTC(2030, 0, 1)) } },
        ],
      },
    });
    await complete(w, id, attempt);
    const task = await client.getStatus(id);
    expect(task.state).toBe(TaskState.SUCCEEDED);
    expect(task.attempt).toBe(1);
    expect(task.progress?.percent).toBe(40);
    const items = await refusedItems(w, ReportKind.PROGRESS, 2);
    expect(items.map((i) => [RpcCode[i.code], i.message])).toEqual([
      ["INVALID_ARGUMENT", "progress.update_time: seconds 1000000000000000 is outside years 1 to 9999 (-62135596800 to 253402300799); update dropped"],
      ["INVALID_ARGUMENT", "progress.percent: 150 is outside 0 to 100; update dropped"],
    ]);
    w.end();
  });
});

describe("task logs, bounded per line and per worker", () => {
  /** The messages stored for the task (its outcome is recorded after its lines are). */
  const stored = async (id: string) => (await client.getTaskLogs(id)).lines;

  it("cuts a line longer than maxLogLineBytes, noting the cut, and stores it at its level", async () => {
    const { w, id, attempt } = await holding("log-line");
    w.send({ case: "log", value: { entries: [{ taskId: id, attempt, level: "warn", message: "€".repeat(1000) }] } });
    await complete(w, id, attempt);
    const [line] = await stored(id);
    expect(line?.level).toBe("warn");
    expect(Buffer.byteLength(String(line?.message))).toBeLessThanOrEqual(512);
    expect(String(line?.message)).toMatch(/^€+… \[cut to 512 of 3000 bytes\]$/);
    // The server's own log has task lines at debug only (a worker's log has them already).
    expect(logLines.filter((entry) => entry.taskId === id && entry.source === "task")).toEqual([]);
    w.end();
  });

  it("refuses lines over maxLogRate bytes a second (each counting 128 more) and lines with an out-of-range time", async () => {
    const { w, id, attempt } = await holding("log-rate");
    const entries = Array.from({ length: 100 }, (_, i) => ({ taskId: id, attempt, level: "info", message: `${String(i).padStart(3, "0")} ${"l".repeat(96)}` }));
    entries.push({ taskId: id, attempt, level: "info", message: "late", time: { seconds: -1_000_000_000_000n, nanos: 0 } } as (typeof entries)[number]);
    w.send({ case: "log", value: { entries } });
    await complete(w, id, attempt);
    expect((await stored(id)).map((line) => line.message.slice(0, 3))).toEqual(Array.from({ length: 17 }, (_, i) => String(i).padStart(3, "0")));
    const items = await refusedItems(w, ReportKind.LOG, 84);
    const rate = items.find((i) => i.code === RpcCode.RESOURCE_EXHAUSTED);
    // 4096 bytes of budget, 100 + 128 per line: 17 lines pass.
    expect(rate).toMatchObject({
      count: 83,
      message: "task log over 4096 bytes a second from this worker, the limit set by TASKWIRE_MAX_LOG_RATE (--max-log-rate); line dropped",
    });
    expect(items.find((i) => i.code === RpcCode.INVALID_ARGUMENT)?.message).toBe(
      "log.time: seconds -1000000000000 is outside years 1 to 9999 (-62135596800 to 253402300799); line dropped",
    );
    w.end();
  });

  it("keeps a line whose fields are too large or not finite, without them; ignores lines of an attempt not held", async () => {
    const { w, id, attempt } = await holding("log-fields");
    w.send({
      case: "log",
      value: {
        entries: [
          { taskId: id, attempt, level: "info", message: "with fields", fields: { user: "ada", n: 1 }, time: timestampFromMs(Date.UTC(2026, 0, 2)) },
          { taskId: id, attempt, level: "info", message: "big fields", fields: { blob: "b".repeat(600) } },
          { taskId: id, attempt, level: "info", message: "NaN field", fields: { n: Number.NaN } },
          { taskId: id, attempt: attempt + 1, level: "info", message: "not held" },
          { taskId: id, attempt, level: "shout", message: "unknown level" },
        ],
      },
    });
    await complete(w, id, attempt);
    expect((await stored(id)).map((line) => [line.level, line.message, line.fields])).toEqual([
      ["info", "with fields", { user: "ada", n: 1 }],
      ["info", "big fields", undefined],
      ["info", "NaN field", undefined],
      ["info", "unknown level", undefined],
    ]);
    const [first] = await stored(id);
    expect(Number(first?.time?.seconds) * 1000).toBe(Date.UTC(2026, 0, 2));
    const items = await refusedItems(w, ReportKind.LOG, 2);
    expect(items.map((i) => [RpcCode[i.code], i.message])).toEqual([
      [RpcCode[RpcCode.RESOURCE_EXHAUSTED], expect.stringMatching(/^log fields are \d+ bytes, over the 512 set by TASKWIRE_MAX_LOG_LINE_BYTES \(--max-log-line-bytes\); fields dropped, line kept$/)],
      [RpcCode[RpcCode.INVALID_ARGUMENT], "log.fields.n is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite; fields dropped, line kept"],
    ]);
    w.end();
  });
});

describe("task context, bounded per update", () => {
  it("saves a context alone or with progress, refuses one over maxContextBytes or with a NaN, and assigns the next attempt the last saved", async () => {
    const { w, id, attempt } = await holding("context");
    w.send({ case: "progress", value: { updates: [{ taskId: id, attempt, context: { step: 1 } }] } });
    w.send({ case: "progress", value: { updates: [{ taskId: id, attempt, progress: { percent: 10, message: "" }, context: { blob: "c".repeat(400) } }] } });
    w.send({ case: "progress", value: { updates: [{ taskId: id, attempt, context: { n: Number.POSITIVE_INFINITY } }] } });
    const items = await refusedItems(w, ReportKind.PROGRESS, 2);
    expect(items.map((i) => [RpcCode[i.code], i.message])).toEqual([
      [RpcCode[RpcCode.RESOURCE_EXHAUSTED], expect.stringMatching(/^context is \d+ bytes, over the 256 set by TASKWIRE_MAX_CONTEXT_BYTES \(--max-context-bytes\); context dropped$/)],
      [RpcCode[RpcCode.INVALID_ARGUMENT], "context.n is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite; context dropped"],
    ]);
    // The progress of the update whose context was refused still counts.
    w.send({ case: "complete", value: { results: [{ taskId: id, attempt, outcome: { case: "failure", value: { kind: 1, name: "Error", message: "again", retryable: true } } }] } });
    await w.nextOf("completeAck");
    const task = await client.getStatus(id);
    expect(task.context).toEqual({ step: 1 });
    expect(task.progress?.percent).toBe(10);
    w.send({ case: "grant", value: { slots: 1 } });
    const [retry] = (await w.nextOf("assign")).tasks;
    expect(retry).toMatchObject({ taskId: id, attempt: attempt + 1, context: { step: 1 } });
    await complete(w, id, attempt + 1);
    w.end();
  });

  it("says the bound in the Welcome", async () => {
    const w = rawWorker(server.url);
    w.send(hello("limits-welcome", "limits-welcome", [structType("limits.welcome")]));
    expect((await w.nextOf("welcome")).maxContextBytes).toBe(256);
    w.end();
  });
});

describe("outputs, checked against the declared output type", () => {
  it("fails the attempt, not retryable, for an output of another type with garbage bytes; JSON GetResult still answers", async () => {
    const { w, id, attempt } = await holding("output-garbage");
    await complete(w, id, attempt, { $typeName: "google.protobuf.Any", typeUrl: "type.googleapis.com/nope.Unknown", value: new Uint8Array([0xff, 0xff, 0x01]) });
    const task = await client.getStatus(id);
    expect(task.state).toBe(TaskState.FAILED);
    expect(task.attempt).toBe(1);
    expect(task.output).toBeUndefined();
    expect(task.error).toMatchObject({ name: "InvalidOutput", retryable: false, message: 'the output is a nope.Unknown, but task type "limits.output-garbage" declares google.protobuf.Struct' });
    const json = await fetch(`${server.url}/taskwire.v1.TaskService/GetResult`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id }) });
    expect(json.status).toBe(200);
    expect(await json.json()).toMatchObject({ task: { id, state: "TASK_STATE_FAILED" } });
    const [item] = await refusedItems(w, ReportKind.RESULT, 1);
    expect(item).toMatchObject({ taskId: id, code: RpcCode.INVALID_ARGUMENT });
    expect(item?.message).toBe('the output is a nope.Unknown, but task type "limits.output-garbage" declares google.protobuf.Struct; the attempt failed (InvalidOutput, not retryable)');
    w.end();
  });

  it("fails the attempt for an output of the declared type that does not decode, or holds NaN", async () => {
    for (const [value, message] of [
      [new Uint8Array([0x0a, 0x05, 0x01]), /^the output does not decode as google\.protobuf\.Struct \(/],
      // {"x": NaN}: Struct.fields entry "x" → Value.number_value (fixed64 NaN)
      [new Uint8Array([0x0a, 0x0e, 0x0a, 0x01, 0x78, 0x12, 0x09, 0x11, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f]), /^output\.x is NaN or Infinity/],
    ] as const) {
      const { w, id, attempt } = await holding(`output-${message.source.length}`);
      await complete(w, id, attempt, { $typeName: "google.protobuf.Any", typeUrl: "type.googleapis.com/google.protobuf.Struct", value });
      const task = await client.getStatus(id);
      expect(task.state).toBe(TaskState.FAILED);
      expect(task.error?.name).toBe("InvalidOutput");
      expect(task.error?.message).toMatch(message);
      w.end();
    }
  });

  it("records an output of the declared type as before", async () => {
    const { w, id, attempt } = await holding("output-ok");
    await complete(w, id, attempt);
    expect((await client.getStatus(id)).state).toBe(TaskState.SUCCEEDED);
    w.end();
  });
});

describe("text PostgreSQL cannot store (U+0000), from a worker", () => {
  it("is stored with U+FFFD in its place in progress and a cancelled attempt's reason, and the batch of other tasks goes on", async () => {
    const { w, id, attempt } = await holding("unstorable");
    w.send({
      case: "progress",
      value: { updates: [{ taskId: id, attempt, progress: { percent: 50, message: "half\u0000way", details: { "k\u0000": "v\u0000" } } }] },
    });
    await complete(w, id, attempt);
    const done = await client.getStatus(id);
    expect(done.progress).toMatchObject({ percent: 50, message: "half\uFFFDway" });
    expect(done.progress?.details).toEqual({ "k\uFFFD": "v\uFFFD" });

    w.end();

    // One report of two results: a cancelled outcome whose reason holds U+0000, and a success.
    const two = rawWorker(server.url);
    two.send(hello("limits-unstorable-2", "limits-unstorable-2", [structType("limits.unstorable-2")], undefined, { slots: 2 }));
    await two.nextOf("welcome");
    two.beat();
    two.send({ case: "grant", value: { slots: 2 } });
    const next = await client.submitByName("limits.unstorable-2", {}, { queue: "limits-unstorable-2" });
    const other = await client.submitByName("limits.unstorable-2", {}, { queue: "limits-unstorable-2" });
    const assigned = new Map<string, number>();
    while (assigned.size < 2) for (const t of (await two.nextOf("assign")).tasks) assigned.set(t.taskId, t.attempt);
    two.send({
      case: "complete",
      value: {
        results: [
          { taskId: next.id, attempt: assigned.get(next.id)!, outcome: { case: "cancelled", value: "stop\u0000now" } },
          { taskId: other.id, attempt: assigned.get(other.id)!, outcome: { case: "output", value: okOutput } },
        ],
      },
    });
    await two.nextOf("completeAck");
    const cancelled = await client.getStatus(next.id);
    expect(cancelled.state).toBe(TaskState.CANCELLED);
    expect(cancelled.error?.message).toBe("stop\uFFFDnow");
    expect((await client.getStatus(other.id)).state).toBe(TaskState.SUCCEEDED);
    two.end();
  });
});
