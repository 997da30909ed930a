/**
 * The worker against a scripted WorkerService peer: what it says in Hello, how it fills its
 * slots, and how it reports every way an attempt can end.
 */
import { create, createFileRegistry } from "@bufbuild/protobuf";
import { AnySchema, durationMs, Int64ValueSchema, StringValueSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { hostname } from "node:os";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import { packValue, unpackValue, typeUrlOf } from "../../src/common/any.js";
import { CancelRequestedError, TaskTimeoutError, Worker } from "../../src/worker/index.js";
import { assignment, Gates, garbageStruct, json, testTasks } from "./fixtures.js";
import { connectedWorker } from "./harness.js";
import { ScriptedPeer } from "./scripted-peer.js";

let peer: ScriptedPeer;
let worker: Worker | undefined;

beforeEach(async () => {
  peer = await ScriptedPeer.start();
});

afterEach(async () => {
  await worker?.shutdown();
  worker = undefined;
  await peer.close();
});

describe("Hello", () => {
  it("declares the worker, its types with defaults and their descriptors", async () => {
    const connected = await connectedWorker(peer, { workerId: "w-hello", concurrency: 3 });
    worker = connected.worker;
    const { hello, grant } = connected;

    expect(hello.workerId).toBe("w-hello");
    expect(hello.host).toBe(hostname());
    expect(hello.pid).toBe(process.pid);
    expect(hello.slots).toBe(3);
    expect(hello.burst).toBe(false);
    expect(hello.sdk).toBe("taskwire-ts/0.1.0");
    // "gated" is the only declared queue; the other tasks fall back to the convention.
    expect(hello.queues).toEqual(["gated", "high_priority", "default", "low_priority"]);
    expect(hello.types.map((type) => type.name)).toEqual(["test.gated", "test.square", "test.fail", "test.chatty"]);

    const gated = hello.types[0];
    expect(gated?.inputType).toBe("google.protobuf.Struct");
    expect(gated?.defaults?.queue).toBe("gated");
    expect(gated?.defaults?.maxAttempts).toBe(5);
    expect(durationMs(gated!.defaults!.timeout!)).toBe(30_000);
    expect(durationMs(gated!.defaults!.backoff!.initial!)).toBe(1_000);
    expect(durationMs(gated!.defaults!.retention!)).toBe(30 * 86_400_000);
    const square = hello.types[1];
    expect(square?.inputType).toBe("google.protobuf.Int64Value");
    expect(square?.outputType).toBe("google.protobuf.StringValue");
    expect(square?.description).toBe("n² as text");
    expect(square?.defaults?.maxAttempts).toBe(3);
    expect(square?.defaults?.timeout).toBeUndefined();
    expect(square?.defaults?.retention).toBeUndefined();

    const registry = createFileRegistry(hello.descriptors!);
    for (const schema of [StructSchema, Int64ValueSchema, StringValueSchema]) {
      expect(registry.getMessage(schema.typeName)?.typeName).toBe(schema.typeName);
    }
    expect(grant.slots).toBe(3);
  });

  it("uses the queues it is given, in order", async () => {
    const connected = await connectedWorker(peer, { queues: ["b", "a"] });
    worker = connected.worker;
    expect(connected.hello.queues).toEqual(["b", "a"]);
  });

  it("sends heartbeats at the interval of the Welcome", async () => {
    worker = new Worker({ url: peer.url, tasks: testTasks(new Gates()).all });
    void worker.run();
    const stream = await peer.nextStream();
    await stream.nextOf("hello");
    stream.welcome(20);
    await stream.nextHeartbeat();
    await stream.nextHeartbeat();
  });
});

describe("slots", () => {
  it("runs assignments only in granted slots and grants freed slots after reporting", async () => {
    const connected = await connectedWorker(peer, { concurrency: 2 });
    worker = connected.worker;
    const { stream, gates, grant } = connected;
    expect(grant.slots).toBe(2);

    stream.send({ case: "assign", value: { tasks: [assignment("t1", "test.gated", json({ id: "t1" }))] } });
    stream.send({ case: "assign", value: { tasks: [assignment("t2", "test.gated", json({ id: "t2" }))] } });
    await gates.started("t1");
    await gates.started("t2");
    // Past the granted slots: handed back unrun (Release: its attempt is not counted).
    stream.send({ case: "assign", value: { tasks: [assignment("t3", "test.gated", json({ id: "t3" }))] } });
    const released = await stream.nextOf("release");
    expect(released.tasks.map((t) => [t.taskId, t.attempt])).toEqual([["t3", 1]]);
    expect(worker.runningCount).toBe(2);

    gates.open("t1", { answer: 42 });
    const report = await stream.nextOf("complete");
    expect(report.results.map((result) => result.taskId)).toEqual(["t1"]);
    const output = report.results[0]?.outcome;
    expect(output?.case).toBe("output");
    if (output?.case === "output") expect(unpackValue(StructSchema, output.value)).toEqual({ answer: 42 });
    expect((await stream.nextOf("grant")).slots).toBe(1);

    gates.open("t2");
    expect((await stream.nextOf("complete")).results[0]?.taskId).toBe("t2");
    expect((await stream.nextOf("grant")).slots).toBe(1);
    expect(gates.maxRunning).toBe(2);
  });

  it("batches results that finish together into one report and one grant", async () => {
    const connected = await connectedWorker(peer, { concurrency: 5 });
    worker = connected.worker;
    const { stream, gates } = connected;
    const ids = ["b1", "b2", "b3", "b4", "b5"];
    stream.send({ case: "assign", value: { tasks: ids.map((id) => assignment(id, "test.gated", json({ id }))) } });
    await Promise.all(ids.map((id) => gates.started(id)));
    for (const id of ids) gates.open(id);
    const report = await stream.nextOf("complete");
    expect(report.results.map((result) => result.taskId).sort()).toEqual(ids);
    expect((await stream.nextOf("grant")).slots).toBe(5);
  });

  it("with prefetch, grants concurrency + prefetch slots, holds the extra attempts and starts them in order as slots free", async () => {
    const connected = await connectedWorker(peer, { concurrency: 1, prefetch: 2 });
    worker = connected.worker;
    const { stream, gates, hello, grant } = connected;
    expect(hello.slots).toBe(3);
    expect(grant.slots).toBe(3);
    const ids = ["p1", "p2", "p3"];
    stream.send({ case: "assign", value: { tasks: ids.map((id) => assignment(id, "test.gated", json({ id }))) } });
    await gates.started("p1");
    expect(worker.runningCount).toBe(1);
    // A fourth is past the slots: handed back (Release, its attempt not counted), not held.
    stream.send({ case: "assign", value: { tasks: [assignment("p4", "test.gated", json({ id: "p4" }))] } });
    expect((await stream.nextOf("release")).tasks.map((r) => r.taskId)).toEqual(["p4"]);

    gates.open("p1");
    await gates.started("p2");
    expect((await stream.nextOf("complete")).results.map((r) => r.taskId)).toEqual(["p1"]);
    expect((await stream.nextOf("grant")).slots).toBe(1);
    gates.open("p2");
    gates.open("p3");
    await gates.started("p3");
    expect(gates.maxRunning).toBe(1);
  });

  it("with prefetch, a waiting attempt that is cancelled or reaches its deadline reports without running", async () => {
    const connected = await connectedWorker(peer, { concurrency: 1, prefetch: 2 });
    worker = connected.worker;
    const { stream, gates } = connected;
    const deadline = new Date(Date.now() + 50);
    stream.send({
      case: "assign",
      value: {
        tasks: [
          assignment("w1", "test.gated", json({ id: "w1" })),
          assignment("w2", "test.gated", json({ id: "w2" })),
          assignment("w3", "test.gated", json({ id: "w3" }), { deadline }),
        ],
      },
    });
    await gates.started("w1");
    stream.send({ case: "cancel", value: { tasks: [{ taskId: "w2", attempt: 1 }], reason: "not needed" } });
    // Each report frees a slot, so grants come between the reports.
    const outcomes = new Map<string, unknown>();
    while (outcomes.size < 2) {
      const message = await stream.next();
      if (message.case === "complete") for (const r of message.value.results) outcomes.set(r.taskId, r.outcome);
      else expect(message.case).toBe("grant");
    }
    expect(outcomes.get("w2")).toEqual({ case: "cancelled", value: "not needed" });
    expect(outcomes.get("w3")).toMatchObject({ case: "failure", value: { kind: ErrorKind.DEADLINE_EXCEEDED, retryable: true } });
    expect(worker.runningCount).toBe(1);
    gates.open("w1");
    let report = await stream.next();
    while (report.case === "grant") report = await stream.next();
    expect(report.case === "complete" ? report.value.results.map((r) => r.taskId) : report.case).toEqual(["w1"]);
    expect(gates.maxRunning).toBe(1);
  });

  it("runs typed tasks: Int64Value in, StringValue out", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("sq", "test.square", packValue(Int64ValueSchema, { value: 12n }))] } });
    const outcome = (await stream.nextOf("complete")).results[0]?.outcome;
    expect(outcome?.case).toBe("output");
    if (outcome?.case === "output") expect(unpackValue(StringValueSchema, outcome.value).value).toBe("144");
  });
});

describe("progress and logs", () => {
  it("coalesces a tight loop of progress into the latest value, and sends log lines", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("p1", "test.chatty", json({ id: "p1" }), { attempt: 2 })] } });
    await gates.started("p1");

    const first = await stream.next();
    const second = await stream.next();
    const progress = [first, second].find((message) => message.case === "progress")?.value;
    const logs = [first, second].find((message) => message.case === "log")?.value;
    expect(progress?.updates).toHaveLength(1);
    const update = progress?.updates[0];
    expect(update).toMatchObject({ taskId: "p1", attempt: 2 });
    expect(update?.progress).toMatchObject({ percent: 100, message: "step 1000", current: 1000n, total: 1000n });
    expect(logs?.entries.map(({ level, message, taskId, attempt }) => ({ level, message, taskId, attempt }))).toEqual([
      { level: "info", message: "halfway there", taskId: "p1", attempt: 2 },
      { level: "warn", message: "almost done", taskId: "p1", attempt: 2 },
    ]);

    gates.open("p1");
    expect((await stream.nextOf("complete")).results[0]?.outcome.case).toBe("output");
  });
});

describe("how attempts end", () => {
  it("cancel aborts the signal with CancelRequestedError and reports cancelled", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("c1", "test.gated", json({ id: "c1" }))] } });
    const ctx = await gates.started("c1");
    stream.send({ case: "cancel", value: { tasks: [{ taskId: "c1", attempt: 1 }], reason: "user asked" } });
    const result = (await stream.nextOf("complete")).results[0];
    expect(result?.outcome).toEqual({ case: "cancelled", value: "user asked" });
    expect(ctx.signal.reason).toBeInstanceOf(CancelRequestedError);
    expect((await stream.nextOf("grant")).slots).toBe(1);
  });

  it("a cancelled handler that still returns an output reports the output", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("c2", "test.gated", json({ id: "c2", ignoreAbort: true }))] } });
    const ctx = await gates.started("c2");
    stream.send({ case: "cancel", value: { tasks: [{ taskId: "c2", attempt: 1 }], reason: "too late" } });
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
    gates.open("c2", { finished: true });
    expect((await stream.nextOf("complete")).results[0]?.outcome.case).toBe("output");
  });

  it("a cancel for another attempt is ignored", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("c3", "test.gated", json({ id: "c3" }), { attempt: 2 })] } });
    const ctx = await gates.started("c3");
    stream.send({ case: "cancel", value: { tasks: [{ taskId: "c3", attempt: 1 }], reason: "stale" } });
    gates.open("c3");
    expect((await stream.nextOf("complete")).results[0]?.outcome.case).toBe("output");
    expect(ctx.signal.aborted).toBe(false);
  });

  it("the deadline aborts the signal with TaskTimeoutError and reports DEADLINE_EXCEEDED", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    const deadline = new Date(Date.now() + 50);
    stream.send({ case: "assign", value: { tasks: [assignment("d1", "test.gated", json({ id: "d1" }), { deadline })] } });
    const ctx = await gates.started("d1");
    expect(ctx.deadline?.getTime()).toBe(deadline.getTime());
    const result = (await stream.nextOf("complete")).results[0];
    expect(result?.outcome.case).toBe("failure");
    expect(result?.outcome.value).toMatchObject({ kind: ErrorKind.DEADLINE_EXCEEDED, retryable: true, name: "TaskTimeoutError" });
    expect(ctx.signal.reason).toBeInstanceOf(TaskTimeoutError);
  });

  it.each([
    ["nonRetryable", "NonRetryableError", false],
    ["retryableFalse", "RangeError", false],
    ["plain", "TypeError", true],
  ])("a handler error (%s) is a TASK_ERROR with its name and retryable flag", async (mode, name, retryable) => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("e1", "test.fail", json({ mode }))] } });
    const result = (await stream.nextOf("complete")).results[0];
    expect(result?.outcome.case).toBe("failure");
    expect(result?.outcome.value).toMatchObject({ kind: ErrorKind.TASK_ERROR, name, retryable });
  });

  it("a handler error reports its stack with its causes, and its details", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("e2", "test.fail", json({ mode: "detailed" }))] } });
    const outcome = (await stream.nextOf("complete")).results[0]?.outcome;
    expect(outcome?.case).toBe("failure");
    const failure = outcome?.case === "failure" ? outcome.value : undefined;
    expect(failure).toMatchObject({ kind: ErrorKind.TASK_ERROR, name: "DetailedError", message: "quota exceeded", retryable: true });
    expect(failure?.stack).toMatch(/^DetailedError: quota exceeded\n {4}at .*fixtures\.ts/);
    expect(failure?.stack).toMatch(/\nCaused by: Error: 429 from upstream\n {4}at .*fixtures\.ts/);
    expect(failure?.details).toEqual({ limit: 10, used: [7, 3] });
  });

  it("details that are not JSON are dropped with a note; the failure is still reported", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("e3", "test.fail", json({ mode: "badDetails" }))] } });
    const outcome = (await stream.nextOf("complete")).results[0]?.outcome;
    const failure = outcome?.case === "failure" ? outcome.value : undefined;
    expect(failure?.message).toMatch(/^odd details \[details dropped: not JSON \(.*BigInt.*\)\]$/);
    expect(failure?.details).toBeUndefined();
    expect(failure?.stack).toMatch(/^Error: odd details\n/);
  });

  it.each([
    ["undecodable input", "test.gated", garbageStruct()],
    ["input of another type", "test.gated", packValue(Int64ValueSchema, { value: 1n })],
    ["empty input", "test.gated", create(AnySchema, { typeUrl: typeUrlOf("nope.Nope") })],
    ["unknown task type", "test.unknown", json({})],
  ])("%s is UNSUPPORTED and not retryable", async (_case, type, input) => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("u1", type, input)] } });
    const result = (await stream.nextOf("complete")).results[0];
    expect(result?.outcome.case).toBe("failure");
    expect(result?.outcome.value).toMatchObject({ kind: ErrorKind.UNSUPPORTED, retryable: false });
    expect((await stream.nextOf("grant")).slots).toBe(1);
  });
});
