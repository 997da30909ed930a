/**
 * Priority routing: queues served strictly in the worker's order, higher priority first within
 * a queue, FIFO within a priority, and the high_priority/default/low_priority convention.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess, BACKENDS } from "../support/server.js";

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    // A first worker declares the types, then leaves, so submissions wait for the next one.
    const declarer = spawnWorker(server.url, ["--queues", "unused"]);
    workers.push(declarer);
    await eventually(async () => (await client.listTypes()).length > 0, 20_000, "the types to be declared");
    declarer.kill();
    await declarer.exited;
  });

  afterAll(async () => {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
    client?.close();
    await server?.stop();
  });

  describe("routing", () => {
    it("routes by the priority convention when no queue is given", async () => {
      const high = await client.submit(fixtures.record, {}, { priority: 6 });
      const normal = await client.submit(fixtures.record, {}, { priority: 5 });
      const low = await client.submit(fixtures.record, {}, { priority: -1 });
      const named = await client.submit(fixtures.record, {}, { priority: 9, queue: "reports" });
      expect((await high.status()).queue).toBe("high_priority");
      expect((await normal.status()).queue).toBe("default");
      expect((await low.status()).queue).toBe("low_priority");
      expect((await named.status()).queue).toBe("reports");
      for (const h of [high, normal, low, named]) await h.cancel();
    });

    it("serves queues strictly in order, priority first within a queue, FIFO within a priority", async () => {
      const submit = (label: string, priority: number) => client.submit(fixtures.record, { label }, { priority });
      // Submitted in an order unlike the expected run order.
      const handles = [
        await submit("low", -1),
        await submit("default-a", 0),
        await submit("default-b", 0),
        await submit("default-urgent", 3),
        await submit("high-7", 7),
        await submit("default-c", 0),
        await submit("high-10", 10),
      ];
      const worker = spawnWorker(server.url, ["--concurrency", "1", "--queues", "high_priority,default,low_priority"]);
      workers.push(worker);
      const tasks = await Promise.all(
        handles.map(async (h) => {
          await h.result({ timeout: 30_000 });
          return h.status();
        }),
      );
      const order = tasks
        .map((t) => ({ label: labelOf(t.id, handles), started: timestampMs(t.startTime!) }))
        .sort((a, b) => a.started - b.started)
        .map((t) => t.label);
      expect(order).toEqual(["high-10", "high-7", "default-urgent", "default-a", "default-b", "default-c", "low"]);
      expect(tasks.every((t) => t.state === TaskState.SUCCEEDED)).toBe(true);
    });
  });

  const LABELS = ["low", "default-a", "default-b", "default-urgent", "high-7", "default-c", "high-10"];
  function labelOf(id: string, handles: { id: string }[]): string {
    return LABELS[handles.findIndex((h) => h.id === id)] ?? "?";
  }
});
