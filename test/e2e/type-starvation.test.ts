/**
 * Head-of-line starvation across types, on both back ends: tasks of a type no connected worker
 * serves, ahead in their queue (higher priority), must neither be handed out nor hold back the
 * tasks behind them that a worker does serve. The broker keeps a queue's runnable tasks per
 * type and a claim reads only the worker's types (`Broker.claim`).
 *
 * Before the per-type index, a worker of one slot claimed the queue's top task, found a type it
 * did not serve, put it back and skipped the queue for a second, and claimed the same task
 * again: the served tasks never ran.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, startTestServer, type TestServer } from "../support/server.js";

const QUEUE = "mixed-types";

/** Labels of the served tasks, in the order they started. */
const started: string[] = [];

const unserved = defineTask({ name: "starvation.unserved", input: StructSchema, output: StructSchema, queue: QUEUE }, async () => ({}));
const served = defineTask({ name: "starvation.served", input: StructSchema, output: StructSchema, queue: QUEUE }, async (input) => {
  started.push(String(input["label"]));
  return {};
});

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: { worker: Worker; running: Promise<void> }[] = [];

  function startWorker(...tasks: (typeof unserved | typeof served)[]): Worker {
    const worker = new Worker({ url: server.url, tasks, queues: [QUEUE], concurrency: 1 });
    workers.push({ worker, running: worker.run() });
    return worker;
  }

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    // A first worker declares both types, then leaves, so that no worker serves the unserved one.
    const declarer = startWorker(unserved, served);
    await eventually(async () => (await client.listTypes()).filter((t) => t.name.startsWith("starvation.")).length === 2, 20_000, "the types");
    await declarer.shutdown();
  });

  afterAll(async () => {
    for (const { worker } of workers) await worker.shutdown();
    await Promise.all(workers.map(({ running }) => running));
    client?.close();
    await server?.stop();
  });

  it("runs every served task while three unserved ones of higher priority stay queued ahead", async () => {
    started.length = 0;
    const blocked = [];
    for (let i = 0; i < 3; i++) blocked.push(await client.submit(unserved, {}, { priority: 50 }));
    const labels = ["p10-a", "p0-a", "p10-b", "p0-b", "p0-c"];
    const handles = [];
    for (const label of labels) handles.push(await client.submit(served, { label }, { priority: label.startsWith("p10") ? 10 : 0 }));

    // One slot: each claim asks for one task, so the three unserved ones would fill every claim.
    startWorker(served);
    const results = await Promise.all(handles.map((handle) => handle.wait({ timeout: 20_000 })));
    expect(results.map((task) => task.state)).toEqual(labels.map(() => TaskState.SUCCEEDED));
    expect(started).toEqual(["p10-a", "p10-b", "p0-a", "p0-b", "p0-c"]);

    for (const handle of blocked) {
      const status = await handle.status();
      expect(status.state).toBe(TaskState.QUEUED);
      expect(status.attempt).toBe(0);
    }
    for (const handle of blocked) await handle.cancel();
  });
});
