/**
 * Worker processes killed with SIGKILL under load: their streams close, their attempts are
 * requeued at once (counting the attempt) and run on the other workers. Then a mixed run:
 * random workers killed, and replaced, while a few thousand tasks flow.
 */
import { afterEach, describe, expect, it } from "vitest";
import { FAULT_TEST_TIMEOUT_MS, sharedScenario, type Scenario } from "./support/scenario.js";

describe("workers killed with SIGKILL", () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  it("loses no task when a worker dies mid-run", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await sharedScenario());
    const server = await s.startServer("server");
    const client = s.client(server.url);
    const workers = ["w1", "w2", "w3"].map((name) => s.startWorker(server.url, { name }));
    await s.workersConnected(client, 3);

    await s.submit(client, 3000, { ms: 20 });
    await s.finished(1000);
    workers[0]?.kill("SIGKILL");
    expect(await workers[0]?.exited).toBe("SIGKILL");

    const books = await s.settle();
    await s.report("worker SIGKILL", books, {}, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3000, terminal: 3000, succeeded: 3000, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    // Only what the killed worker was running may have run twice (its results never reached the server).
    expect(books.rerun).toBeLessThanOrEqual(20);
  });
});

describe("random workers killed under load", () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  it("loses no task while workers die and are replaced", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await sharedScenario());
    const server = await s.startServer("server");
    const client = s.client(server.url);
    const workers = ["w1", "w2", "w3", "w4"].map((name) => s.startWorker(server.url, { name, concurrency: 10 }));
    await s.workersConnected(client, 4);

    await s.submit(client, 50, { ms: 1_000 });
    await s.submit(client, 4000, { ms: 20 });
    const kills = 5;
    for (let kill = 1; kill <= kills; kill++) {
      await s.finished(kill * 600);
      const index = Math.floor(Math.random() * workers.length);
      const victim = workers[index];
      victim?.kill("SIGKILL");
      await victim?.exited;
      workers[index] = s.startWorker(server.url, { name: `w${workers.length + kill}-replacement`, concurrency: 10 });
    }

    const books = await s.settle();
    await s.report("random worker SIGKILLs under load (5 kills)", books, { kills }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 4050, terminal: 4050, succeeded: 4050, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
  });
});
