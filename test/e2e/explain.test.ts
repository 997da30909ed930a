/**
 * ExplainTask and `taskwire tasks explain` (README "Limits and fairness"), one test per reason,
 * on the embedded back end (whose in-process broker keeps the running counts and rate windows
 * the limit reasons come from): run time, parents, paused queue, no worker, concurrency limit
 * (n of N, which tasks), rate limit (until when), busy slots, the tasks ahead; nothing for a
 * running task; NOT_FOUND for an unknown id.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WaitReasonKind, type WaitReason } from "../../gen/taskwire/v1/task_service_pb.js";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { runCli } from "../../src/cli/run.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { eventually, startTestServer, type TestServer } from "../support/server.js";

let release: () => void = () => {};
const gate = new Promise<void>((resolve) => (release = resolve));

const gated = defineTask({ name: "explain.gated", input: StructSchema, output: StructSchema, queue: "ex-limit" }, async () => {
  await gate;
  return {};
});
const quick = defineTask({ name: "explain.quick", input: StructSchema, output: StructSchema, queue: "ex-rate" }, async () => ({}));

describe("ExplainTask on embedded", () => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: { worker: Worker; running: Promise<void> }[] = [];

  function startWorker(queues: string[], concurrency: number): void {
    const worker = new Worker({ url: server.url, tasks: [gated, quick], queues, concurrency });
    workers.push({ worker, running: worker.run() });
  }

  async function reasonsOf(id: string): Promise<WaitReason[]> {
    return (await client.explainTask(id)).reasons;
  }

  async function running(queue: string): Promise<number> {
    return (await client.listTasks({ states: [TaskState.RUNNING], queue })).tasks.length;
  }

  beforeAll(async () => {
    server = await startTestServer({}, undefined, "embedded");
    client = createClient({ url: server.url });
    startWorker(["ex-limit", "ex-rate"], 4);
    startWorker(["ex-busy"], 1);
    await eventually(async () => (await client.listTypes()).some((t) => t.name === "explain.gated" && t.workerCount === 2), 30_000, "the workers");
  }, 60_000);

  afterAll(async () => {
    release();
    for (const { worker } of workers) await worker.shutdown();
    await Promise.all(workers.map(({ running: r }) => r));
    client?.close();
    await server?.stop();
  }, 60_000);

  it("a scheduled task waits for its run time", async () => {
    const handle = await client.submit(quick, {}, { delay: "1h" });
    const [first] = await reasonsOf(handle.id);
    expect(first?.kind).toBe(WaitReasonKind.RUN_TIME);
    expect(first?.until).toBeDefined();
    await handle.cancel();
  });

  it("a dependent task waits for its parents", async () => {
    const parent = await client.submit(quick, {}, { delay: "1h" });
    const child = await client.submit(quick, {}, { dependsOn: [parent] });
    const reasons = await reasonsOf(child.id);
    expect(reasons.map((r) => r.kind)).toEqual([WaitReasonKind.PARENTS]);
    await parent.cancel();
  });

  it("a task of a paused queue says so", async () => {
    await client.admin.pauseQueue("ex-rate");
    try {
      const handle = await client.submit(quick, {});
      expect((await reasonsOf(handle.id)).map((r) => r.kind)).toContain(WaitReasonKind.QUEUE_PAUSED);
      await handle.cancel();
    } finally {
      await client.admin.resumeQueue("ex-rate");
    }
  });

  it("a task no connected worker serves says so", async () => {
    const handle = await client.submit(quick, {}, { queue: "ex-nobody" });
    expect((await reasonsOf(handle.id)).map((r) => r.kind)).toContain(WaitReasonKind.NO_WORKER);
    await handle.cancel();
  });

  it("a task behind a full concurrency limit names n of N and the tasks holding it", async () => {
    await client.admin.setLimit({ type: gated.spec.name }, { concurrency: 1 });
    const first = await client.submit(gated, {});
    await eventually(async () => (await running("ex-limit")) === 1, 30_000, "the first task running");
    const second = await client.submit(gated, {});
    const limit = await eventually(async () => (await reasonsOf(second.id)).find((r) => r.kind === WaitReasonKind.CONCURRENCY_LIMIT), 10_000, "the limit reason");
    expect(limit).toMatchObject({ scope: "type", running: 1, limit: 1, holders: [first.id] });
    expect(limit.message).toContain("1 of 1 running");
    // A running task has nothing holding it back.
    expect(await reasonsOf(first.id)).toEqual([]);
    // And on the command line.
    let stdout = "";
    const status = await runCli(["--url", server.url, "tasks", "explain", second.id], {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: () => {} },
      env: {},
      cwd: process.cwd(),
      signal: new AbortController().signal,
    });
    expect(status).toBe(0);
    expect(stdout).toContain(`task ${second.id} is QUEUED:`);
    expect(stdout).toContain(`concurrency limit of type explain.gated is full: 1 of 1 running (held by ${first.id})`);
    await client.admin.clearLimit({ type: gated.spec.name });
  }, 60_000);

  it("a rate-limited task says until when", async () => {
    await client.admin.setLimit({ type: quick.spec.name }, { keyRate: { count: 1, interval: "1h" } });
    try {
      const first = await client.submit(quick, {}, { concurrencyKey: "tenant-1" });
      await first.wait({ timeout: 30_000 });
      const second = await client.submit(quick, {}, { concurrencyKey: "tenant-1" });
      const rate = await eventually(async () => (await reasonsOf(second.id)).find((r) => r.kind === WaitReasonKind.RATE_LIMIT), 10_000, "the rate reason");
      expect(rate.scope).toBe("key of type");
      expect(rate.until).toBeDefined();
      await second.cancel();
    } finally {
      await client.admin.clearLimit({ type: quick.spec.name });
    }
  }, 60_000);

  it("a task whose workers' slots are all busy says so, with the tasks ahead of it", async () => {
    const holder = await client.submit(gated, {}, { queue: "ex-busy" });
    await eventually(async () => (await running("ex-busy")) === 1, 30_000, "the slot taken");
    const next = await client.submit(gated, {}, { queue: "ex-busy" });
    const last = await client.submit(gated, {}, { queue: "ex-busy" });
    const reasons = await eventually(async () => {
      const found = await reasonsOf(last.id);
      return found.some((r) => r.kind === WaitReasonKind.SLOTS_BUSY) ? found : undefined;
    }, 15_000, "the busy slots");
    expect(reasons.find((r) => r.kind === WaitReasonKind.SLOTS_BUSY)).toMatchObject({ running: 1, limit: 1 });
    expect(reasons.find((r) => r.kind === WaitReasonKind.QUEUED_BEHIND)?.ahead).toBe(1n);
    await Promise.all([holder.cancel(), next.cancel(), last.cancel()]);
  }, 60_000);

  it("refuses an unknown id with NOT_FOUND", async () => {
    const error = await client.explainTask("01890000-0000-7000-8000-000000000000").catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });
});
