/**
 * The worker's lifecycle against a scripted peer: drain, burst, reconnection with results sent
 * again, fatal refusals, and shutdown in order (drain, grace, abort).
 */
import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import { Worker, WorkerRejectedError, WorkerShutdownError, type WorkerState } from "../../src/worker/index.js";
import { assignment, Gates, json, testTasks } from "./fixtures.js";
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

function recordStates(target: Worker): WorkerState[] {
  const states: WorkerState[] = [target.state];
  target.onStateChange((state) => states.push(state));
  return states;
}

describe("drain", () => {
  it("on Drain: sends Draining, lets running attempts report, closes, then reconnects", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("t1", "test.gated", json({ id: "t1" }))] } });
    await gates.started("t1");

    stream.send({ case: "drain", value: { reason: "server going away" } });
    await stream.nextOf("draining");
    await waitForState(worker, "DRAINING");
    gates.open("t1");
    expect((await stream.nextOf("complete")).results[0]?.taskId).toBe("t1");
    await stream.requestsEnded;
    // No slot was granted once draining.
    expect(stream.idle).toBe(true);

    const next = await peer.nextStream();
    expect((await next.nextOf("hello")).workerId).toBe(worker.id);
    next.welcome();
    expect((await next.nextOf("grant")).slots).toBe(2);
    await waitForState(worker, "RUNNING");
  });

  it("in burst mode, stops for good after the Drain of an idle worker", async () => {
    const connected = await connectedWorker(peer, { burst: true });
    worker = connected.worker;
    const { stream, hello, running } = connected;
    expect(hello.burst).toBe(true);
    const states = recordStates(worker);
    stream.send({ case: "drain", value: { reason: "queues empty" } });
    await stream.nextOf("draining");
    await stream.requestsEnded;
    await running;
    expect(worker.state).toBe("STOPPED");
    expect(states).toEqual(["RUNNING", "DRAINING", "STOPPED"]);
    expect(peer.opened).toBe(1);
  });
});

describe("reconnection", () => {
  it("keeps attempts running across a closed stream and sends unacknowledged results again", async () => {
    peer.autoAck = false;
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({
      case: "assign",
      value: { tasks: [assignment("r1", "test.gated", json({ id: "r1" })), assignment("r2", "test.gated", json({ id: "r2" }))] },
    });
    await Promise.all([gates.started("r1"), gates.started("r2")]);
    gates.open("r1");
    expect((await stream.nextOf("complete")).results[0]?.taskId).toBe("r1");
    expect((await stream.nextOf("grant")).slots).toBe(1);

    peer.autoAck = true;
    stream.end();
    await waitForState(worker, "CONNECTING");
    const second = await peer.nextStream();
    await second.nextOf("hello");
    second.welcome();
    // The unacknowledged result first, then the slots that are free: r2 still runs.
    expect((await second.nextOf("complete")).results.map((result) => result.taskId)).toEqual(["r1"]);
    expect((await second.nextOf("grant")).slots).toBe(1);
    expect(worker.runningCount).toBe(1);

    gates.open("r2");
    expect((await second.nextOf("complete")).results.map((result) => result.taskId)).toEqual(["r2"]);
    expect((await second.nextOf("grant")).slots).toBe(1);
  });

  it("retries after UNAVAILABLE", async () => {
    worker = new Worker({ url: peer.url, tasks: testTasks(new Gates()).all });
    void worker.run();
    const first = await peer.nextStream();
    await first.nextOf("hello");
    first.fail(Code.Unavailable, "try later");
    const second = await peer.nextStream();
    await second.nextOf("hello");
    second.welcome();
    await second.nextOf("grant");
    expect(worker.state).toBe("RUNNING");
  });

  it("retries ALREADY_EXISTS after having been connected (the server has not noticed the old stream is gone)", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    connected.stream.fail(Code.Unavailable, "connection reset");
    const refused = await peer.nextStream();
    await refused.nextOf("hello");
    refused.fail(Code.AlreadyExists, "worker is connected");
    const accepted = await peer.nextStream();
    await accepted.nextOf("hello");
    accepted.welcome();
    await accepted.nextOf("grant");
  });

  it.each([
    [Code.AlreadyExists, "worker id already connected"],
    [Code.InvalidArgument, "bad Hello"],
  ])("fails for good when the first Hello is refused with code %s", async (code, message) => {
    worker = new Worker({ url: peer.url, tasks: testTasks(new Gates()).all });
    const states = recordStates(worker);
    const running = worker.run();
    const stream = await peer.nextStream();
    await stream.nextOf("hello");
    stream.fail(code, message);
    const error: unknown = await running.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WorkerRejectedError);
    expect((error as WorkerRejectedError).code).toBe(code);
    expect((error as Error).message).toContain(message);
    expect(worker.state).toBe("FAILED");
    expect(states).toEqual(["INITIALIZED", "CONNECTING", "FAILED"]);
    expect(peer.opened).toBe(1);
  });
});

describe("shutdown", () => {
  it("drains, lets attempts finish within the grace period, then aborts the rest with WorkerShutdownError", async () => {
    const connected = await connectedWorker(peer, { shutdownGraceMs: 500 });
    worker = connected.worker;
    const { stream, gates, running } = connected;
    stream.send({
      case: "assign",
      value: { tasks: [assignment("quick", "test.gated", json({ id: "quick" })), assignment("slow", "test.gated", json({ id: "slow" }))] },
    });
    const [quick, slow] = await Promise.all([gates.started("quick"), gates.started("slow")]);
    const states = recordStates(worker);

    const stopped = worker.shutdown();
    await stream.nextOf("draining");
    gates.open("quick");
    const first = (await stream.nextOf("complete")).results;
    expect(first.map((result) => [result.taskId, result.outcome.case])).toEqual([["quick", "output"]]);
    expect(quick.signal.aborted).toBe(false);

    const second = (await stream.nextOf("complete")).results;
    expect(second.map((result) => result.taskId)).toEqual(["slow"]);
    expect(second[0]?.outcome.value).toMatchObject({ kind: ErrorKind.WORKER_LOST, name: "WorkerShutdownError", retryable: true });
    expect(slow.signal.reason).toBeInstanceOf(WorkerShutdownError);

    await stream.requestsEnded;
    expect(stream.idle).toBe(true);
    await stopped;
    await running;
    expect(states).toEqual(["RUNNING", "STOPPING", "STOPPED"]);
  });

  it("abandons attempts that ignore the abort after the hard limit", async () => {
    const connected = await connectedWorker(peer, { shutdownGraceMs: 10, shutdownHardLimitMs: 50 });
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("stuck", "test.gated", json({ id: "stuck", ignoreAbort: true }))] } });
    const ctx = await gates.started("stuck");
    await worker.shutdown();
    expect(worker.state).toBe("STOPPED");
    expect(ctx.signal.reason).toBeInstanceOf(WorkerShutdownError);
    expect(stream.received.some((request) => request.message.case === "complete")).toBe(false);
    gates.open("stuck");
  });

  it("is safe to call twice, and resolves run()", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    const first = worker.shutdown();
    const second = worker.shutdown();
    expect(second).toBe(first);
    await Promise.all([first, second, connected.running]);
    expect(worker.state).toBe("STOPPED");
    await worker.shutdown();
  });

  it("before run(): stops at once, and run() then resolves", async () => {
    worker = new Worker({ url: peer.url, tasks: testTasks(new Gates()).all });
    await worker.shutdown();
    expect(worker.state).toBe("STOPPED");
    await worker.run();
    expect(peer.opened).toBe(0);
  });

  it("while reconnecting: stops without waiting for a server", async () => {
    const connected = await connectedWorker(peer, { shutdownGraceMs: 10_000 });
    worker = connected.worker;
    const { stream, gates } = connected;
    stream.send({ case: "assign", value: { tasks: [assignment("k1", "test.gated", json({ id: "k1" }))] } });
    await gates.started("k1");
    await peer.close();
    await waitForState(worker, "CONNECTING");
    const stopped = worker.shutdown();
    expect(worker.state).toBe("STOPPING");
    gates.open("k1");
    await stopped;
    expect(worker.state).toBe("STOPPED");
  });

  it("run() can be called only once", async () => {
    const connected = await connectedWorker(peer);
    worker = connected.worker;
    await expect(worker.run()).rejects.toThrow(/already called/);
  });
});
