/**
 * The worker SDK hands back what it will not run (issue 15): prefetched attempts that have not
 * started go back with `Release` when the worker drains or stops (not counted against the
 * task's attempts), as does an assignment past its slots; and the server's `Refused` notices are
 * logged while the stream goes on.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code as RpcCode } from "../../gen/google/rpc/code_pb.js";
import { ReportKind } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Worker } from "../../src/worker/index.js";
import { assignment, json } from "./fixtures.js";
import { connectedWorker, waitForState } from "./harness.js";
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

describe("Release of prefetched attempts", () => {
  it("on a Drain: sends Draining, releases the waiting attempts unrun, finishes the running one, then closes", async () => {
    const connected = await connectedWorker(peer, { concurrency: 1, prefetch: 2 });
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: ["d1", "d2", "d3"].map((id) => assignment(id, "test.gated", json({ id }))) } });
    await gates.started("d1");
    stream.send({ case: "drain", value: { reason: "server going away" } });
    await stream.nextOf("draining");
    const release = await stream.nextOf("release");
    expect({ tasks: release.tasks.map((t) => [t.taskId, t.attempt]), reason: release.reason }).toEqual({
      tasks: [
        ["d2", 1],
        ["d3", 1],
      ],
      reason: "draining",
    });
    stream.send({ case: "completeAck", value: { tasks: release.tasks } });
    gates.open("d1");
    expect((await stream.nextOf("complete")).results.map((r) => r.taskId)).toEqual(["d1"]);
    await stream.requestsEnded;
    expect(gates.maxRunning).toBe(1);
    expect(worker.runningCount).toBe(0);
  });

  it("on shutdown: releases the waiting attempts and waits for their acknowledgement", async () => {
    const connected = await connectedWorker(peer, { concurrency: 1, prefetch: 1 });
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.autoAck = false;
    stream.send({ case: "assign", value: { tasks: ["s1", "s2"].map((id) => assignment(id, "test.gated", json({ id }))) } });
    await gates.started("s1");
    const stopped = worker.shutdown();
    await stream.nextOf("draining");
    const release = await stream.nextOf("release");
    expect(release.tasks.map((t) => t.taskId)).toEqual(["s2"]);
    gates.open("s1");
    const complete = await stream.nextOf("complete");
    // Not closed before both are acknowledged.
    stream.send({ case: "completeAck", value: { tasks: complete.results.map(({ taskId, attempt }) => ({ taskId, attempt })) } });
    stream.send({ case: "completeAck", value: { tasks: release.tasks } });
    await stream.requestsEnded;
    await stopped;
    expect(worker.state).toBe("STOPPED");
  });

  it("releases an assignment past its slots instead of failing it", async () => {
    const connected = await connectedWorker(peer, { concurrency: 1, prefetch: 0 });
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("x1", "test.gated", json({ id: "x1" })), assignment("x2", "test.gated", json({ id: "x2" }))] } });
    await gates.started("x1");
    const release = await stream.nextOf("release");
    expect({ tasks: release.tasks.map((t) => t.taskId), reason: release.reason }).toEqual({ tasks: ["x2"], reason: "no free slot (1 slots)" });
    gates.open("x1");
    expect((await stream.nextOf("complete")).results.map((r) => r.taskId)).toEqual(["x1"]);
  });
});

describe("Refused", () => {
  it("logs each refused item and goes on", async () => {
    const lines: Record<string, unknown>[] = [];
    let wake: (() => void) | undefined;
    const logger = pino(
      { level: "info" },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const text of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(text) as Record<string, unknown>);
          wake?.();
          done();
        },
      }),
    );
    const connected = await connectedWorker(peer, { logger });
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("r1", "test.gated", json({ id: "r1" }))] } });
    await gates.started("r1");
    stream.send({
      case: "refused",
      value: { items: [{ report: ReportKind.PROGRESS, taskId: "r1", attempt: 1, code: RpcCode.RESOURCE_EXHAUSTED, message: "progress over 20 updates a second", count: 7 }] },
    });
    const refused = () => lines.find((line) => String(line.msg).startsWith("the server refused a report"));
    while (!refused()) await new Promise<void>((resolve) => (wake = resolve));
    expect(refused()).toMatchObject({ level: 40, taskId: "r1", attempt: 1, report: "PROGRESS", count: 7, msg: "the server refused a report: progress over 20 updates a second" });
    gates.open("r1");
    expect((await stream.nextOf("complete")).results.map((r) => r.taskId)).toEqual(["r1"]);
    await waitForState(worker, "RUNNING");
  });
});
