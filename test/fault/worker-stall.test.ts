/**
 * A worker whose event loop blocks (a task spinning in a `while`) for longer than the lease
 * timeout: its stream stays open but no heartbeat leaves it. The server notices the silence,
 * closes the stream and requeues its attempts, which run on the other workers; when the worker
 * comes back, its late results are fenced off (ignored, never recorded).
 */
import { afterEach, describe, expect, it } from "vitest";
import { batchItem } from "../../src/client/index.js";
import { block } from "./support/fault-tasks.js";
import { logEntries } from "./support/processes.js";
import { FAULT_TEST_TIMEOUT_MS, sharedScenario, type Scenario } from "./support/scenario.js";

describe("a worker that stalls", () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  it("loses its attempts to the other workers, and its late results are ignored", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await sharedScenario());
    const server = await s.startServer("server");
    const client = s.client(server.url);
    s.startWorker(server.url, { name: "w1" });
    s.startWorker(server.url, { name: "w2" });
    // The only worker serving "stall": it takes the blocking task, then its event loop is stuck.
    s.startWorker(server.url, { name: "staller", queues: "stall,fault" });
    await s.workersConnected(client, 3);
    await s.workersConnected(client, 1, "fault.block");

    await s.submit(client, 3000, { ms: 20 });
    await s.finished(500);
    // Blocks for 6 s on its first attempt, twice the lease timeout (3 s).
    const [blocker] = await client.submitBatch([batchItem(block, { ms: 6_000 })]);
    s.acknowledged.push(blocker!.id);

    const books = await s.settle();
    const stalled = logEntries(s.processes[0]!, "worker stalled");
    const fenced = logEntries(s.processes[0]!, "ignored a result for an attempt the worker does not hold");
    await s.report("worker stall (event loop blocked 6 s, lease 3 s)", books, { stallsDetected: stalled.length, lateResultsIgnored: fenced.length }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3001, terminal: 3001, succeeded: 3001, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    expect(stalled.map((entry) => entry.workerId)).toContain("staller");
    // The stalled worker finished what it held once it woke up, too late: fenced off.
    expect(fenced.length).toBeGreaterThan(0);
    const task = await blocker!.status();
    expect(task.attempt).toBe(2);
    expect(task.errors[0]?.workerId).toBe("staller");
  });
});
