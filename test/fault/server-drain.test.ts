/**
 * A server drained with SIGTERM under load, behind a load balancer with a second server: it
 * stops accepting at once, tells its workers to finish and reconnect elsewhere, lets their
 * running tasks report within the grace period, and exits 0. The workers move to the other
 * server; no task is lost, and none runs twice.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../support/server.js";
import { logEntries } from "./support/processes.js";
import { FAULT_TEST_TIMEOUT_MS, sharedScenario, type Scenario } from "./support/scenario.js";
import { startTwoServers, submitLoad } from "./support/two-servers.js";

describe("a server drained with SIGTERM", () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  it("hands its workers to the other server without losing or repeating a task", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await sharedScenario({ shutdownGrace: "10s" }));
    const { first: draining, second: other, client, workersOnFirst: moved } = await startTwoServers(s);
    expect(moved, "the balancer gives the first server some workers").toBeGreaterThan(0);

    await submitLoad(s, client, 2_000);
    draining.kill("SIGTERM");
    await eventually(async () => logEntries(draining, "draining").length > 0, 10_000, "the drain to start");

    // It stops accepting: a new connection to it is refused while its workers finish.
    const late = s.client(draining.url);
    const refused = await late.listTypes().then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refused?.code).toBe(Code.Unavailable);

    expect(await draining.exited).toBe(0);
    await eventually(async () => logEntries(other, "worker connected").length >= 4, 30_000, "every worker on the other server");

    const books = await s.settle();
    await s.report("server SIGTERM drain (workers move to the other server)", books, { workersMoved: moved }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3040, terminal: 3040, succeeded: 3040, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    // Drained, not killed: every running task reported before the server left.
    expect(books).toMatchObject({ retried: 0, rerun: 0 });
  });
});
