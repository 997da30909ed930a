/**
 * Dispatch limits end to end (README "Limits and fairness"): AdminService's SetLimit / ClearLimit
 * / ListLimits and every bad input with its code, on both back ends; and, on the embedded back
 * end (whose in-process broker enforces them), limits declared with a type and set by an
 * operator holding with two workers, counted from the store while tasks run.
 */
import { Code, ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { DispatchLimitsSchema } from "../../gen/taskwire/v1/task_pb.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, startTestServer, type TestServer } from "../support/server.js";

const QUEUE = "limited";

/** Tasks hold until released: the test decides when slots free. */
let releaseAll: () => void = () => {};
let gate = new Promise<void>((resolve) => (releaseAll = resolve));
function closeGate(): void {
  gate = new Promise<void>((resolve) => (releaseAll = resolve));
}

const limited = defineTask(
  { name: "limits.mirror", input: StructSchema, output: StructSchema, queue: QUEUE, limits: { concurrency: 3, perKey: 1 } },
  async () => {
    await gate;
    return {};
  },
);
const free = defineTask({ name: "limits.free", input: StructSchema, output: StructSchema, queue: QUEUE }, async () => {
  await gate;
  return {};
});

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe.each(BACKENDS)("limits on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: { worker: Worker; running: Promise<void> }[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    for (let i = 0; i < 2; i++) {
      const worker = new Worker({ url: server.url, tasks: [limited, free], queues: [QUEUE], concurrency: 4 });
      workers.push({ worker, running: worker.run() });
    }
    await eventually(async () => (await client.listTypes()).filter((t) => t.name.startsWith("limits.") && t.workerCount === 2).length === 2, 30_000, "the workers");
  }, 60_000);

  afterAll(async () => {
    releaseAll();
    for (const { worker } of workers) await worker.shutdown();
    await Promise.all(workers.map(({ running }) => running));
    client?.close();
    await server?.stop();
  }, 60_000);

  it("lists declared limits, sets and clears an operator's over them", async () => {
    const listed = await client.admin.listLimits();
    const mirror = listed.find((l) => l.target.value === limited.spec.name);
    expect(mirror?.declared).toMatchObject({ concurrency: 3, perKey: 1 });
    expect(mirror?.effective).toMatchObject({ concurrency: 3, perKey: 1 });

    const set = await client.admin.setLimit({ type: limited.spec.name }, { concurrency: 5, keyRate: "10/s" });
    expect(set.effective).toMatchObject({ concurrency: 5, perKey: 1, keyRate: { count: 10, interval: { seconds: 1n } } });
    const more = await client.admin.setLimit({ type: limited.spec.name }, { perKey: 0 });
    // The earlier fields are kept; 0 lifts the declared per-key limit.
    expect(more.effective?.concurrency).toBe(5);
    expect(more.effective?.perKey).toBeUndefined();
    expect(more.override).toMatchObject({ concurrency: 5, perKey: 0 });

    const queue = await client.admin.setLimit({ queue: "limits-other" }, { rate: { count: 2, interval: "1m" } });
    expect(queue.effective?.rate).toMatchObject({ count: 2, interval: { seconds: 60n } });
    expect((await client.admin.listLimits()).map((l) => `${l.target.case}:${l.target.value}`)).toContain("queue:limits-other");

    const cleared = await client.admin.clearLimit({ type: limited.spec.name });
    expect(cleared.effective).toMatchObject({ concurrency: 3, perKey: 1 });
    expect(cleared.override).toBeUndefined();
    await client.admin.clearLimit({ queue: "limits-other" });
    expect((await client.admin.listLimits()).map((l) => l.target.value)).not.toContain("limits-other");
  });

  it("refuses bad limits and keys with their codes", async () => {
    const rpc = client.admin;
    expect(await codeOf(rpc.setLimit({ type: "limits.unknown" }, { concurrency: 1 }))).toBe(Code.NotFound);
    expect(await codeOf(rpc.setLimit({ type: limited.spec.name }, { concurrency: -1 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.setLimit({ type: limited.spec.name }, { concurrency: 2_000_000 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.setLimit({ type: limited.spec.name }, { rate: { count: 5, interval: 0 } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.setLimit({ type: limited.spec.name }, { rate: { count: 5, interval: "2d" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.setLimit({ type: limited.spec.name }, {}))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.setLimit({ queue: "not a queue" }, { concurrency: 1 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.setLimit({ type: "" }, { concurrency: 1 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(rpc.clearLimit({ type: "limits.unknown" }))).toBe(Code.NotFound);
    // No target at all, no limits, and a rate without its interval, straight through the generated client.
    const raw = createRpcClient(AdminService, createGrpcTransport({ baseUrl: server.url }));
    expect(await codeOf(raw.setLimit({ limits: create(DispatchLimitsSchema, { concurrency: 1 }) }))).toBe(Code.InvalidArgument);
    expect(await codeOf(raw.setLimit({ target: { case: "queue", value: "q" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(raw.setLimit({ target: { case: "queue", value: "q" }, limits: { rate: { count: 3 } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(raw.setLimit({ target: { case: "queue", value: "q" }, limits: { rate: { count: 3, interval: { seconds: -1n } } } }))).toBe(Code.InvalidArgument);
    // A malformed rate is the SDK's RangeError, nothing sent.
    await expect(rpc.setLimit({ queue: "q" }, { rate: "ten per second" })).rejects.toThrow(RangeError);
    await expect(rpc.setLimit({ queue: "q" }, { perKey: 1.5 })).rejects.toThrow(RangeError);
    expect(await codeOf(client.submit(free, {}, { concurrencyKey: "k".repeat(129) }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submit(free, {}, { concurrencyKey: "tab\there" }))).toBe(Code.InvalidArgument);
  });

  it("keeps the concurrency key on the task", async () => {
    const handle = await client.submit(free, {}, { concurrencyKey: "tenant-7", delay: "1h" });
    expect((await handle.status()).concurrencyKey).toBe("tenant-7");
    await handle.cancel();
  });

  it.runIf(backend === "embedded")(
    "holds the type at 3 running and each key at 1 across two workers, while keys below their limit keep flowing",
    async () => {
      closeGate();
      const handles = [];
      for (const key of ["A", "A", "A", "B", "B", "C"]) handles.push(await client.submit(limited, {}, { concurrencyKey: key }));
      const unlimited = [];
      for (let i = 0; i < 3; i++) unlimited.push(await client.submit(free, {}));

      const running = async () => {
        const page = await client.listTasks({ states: [TaskState.RUNNING], queue: QUEUE, pageSize: 100 });
        return page.tasks;
      };
      // Three keys at one each fill the type's three slots; the free type is not held back by them.
      const full = await eventually(async () => {
        const tasks = await running();
        return tasks.filter((t) => t.type === limited.spec.name).length === 3 && tasks.filter((t) => t.type === free.spec.name).length === 3 ? tasks : undefined;
      }, 30_000, "3 limited and 3 free tasks running");
      const keys = full.filter((t) => t.type === limited.spec.name).map((t) => t.concurrencyKey).sort();
      expect(keys).toEqual(["A", "B", "C"]);

      // Released, the rest run; sampled from the store all along, no limit is ever exceeded.
      releaseAll();
      const samples: number[] = [];
      const done = Promise.all(handles.map((h) => h.wait({ timeout: 30_000 })));
      let finished = false;
      void done.finally(() => (finished = true));
      while (!finished) {
        const tasks = (await running()).filter((t) => t.type === limited.spec.name);
        samples.push(tasks.length);
        expect(tasks.length).toBeLessThanOrEqual(3);
        for (const key of ["A", "B", "C"]) expect(tasks.filter((t) => t.concurrencyKey === key).length).toBeLessThanOrEqual(1);
      }
      expect((await done).every((t) => t.state === TaskState.SUCCEEDED)).toBe(true);
      await Promise.all(unlimited.map((h) => h.wait({ timeout: 30_000 })));
      expect(samples.length).toBeGreaterThan(0);
    },
    90_000,
  );

  it.runIf(backend === "embedded")(
    "puts an operator's queue limit in force at once, and frees its slot for the next task",
    async () => {
      closeGate();
      await client.admin.setLimit({ queue: QUEUE }, { concurrency: 1 });
      try {
        const first = await client.submit(free, {});
        const second = await client.submit(free, {});
        await eventually(async () => (await client.listTasks({ states: [TaskState.RUNNING], queue: QUEUE })).tasks.length === 1, 30_000, "one running");
        expect((await second.status()).state === TaskState.QUEUED || (await first.status()).state === TaskState.QUEUED).toBe(true);
        releaseAll();
        await Promise.all([first.wait({ timeout: 30_000 }), second.wait({ timeout: 30_000 })]);
      } finally {
        await client.admin.clearLimit({ queue: QUEUE });
      }
    },
    60_000,
  );
});
