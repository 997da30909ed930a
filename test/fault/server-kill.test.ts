/**
 * A server process killed with SIGKILL under load, behind a load balancer with a second
 * server: its workers reconnect (back-off with jitter) to the other server; the leases it held
 * expire and the other server's reaper requeues them; the killed server then starts again on
 * its port and takes its share again. Every acknowledged task ends once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../support/server.js";
import { logEntries, type ServerProcess } from "./support/processes.js";
import { FAULT_TEST_TIMEOUT_MS, sharedScenario, type Scenario } from "./support/scenario.js";
import { startTwoServers, submitLoad } from "./support/two-servers.js";

describe("a server killed with SIGKILL", () => {
  let scenario: Scenario | undefined;

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  it("has its workers move to the other server and its leases reaped there", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await sharedScenario());
    const { first: doomed, second: survivor, client, workersOnFirst: onDoomed } = await startTwoServers(s);
    expect(onDoomed, "the balancer gives the first server some workers").toBeGreaterThan(0);

    await submitLoad(s, client, 3_000);
    doomed.kill("SIGKILL");
    expect(await doomed.exited).toBe("SIGKILL");

    // Its workers come back through the balancer, to the survivor.
    await eventually(async () => logEntries(survivor, "worker connected").length >= 4, 30_000, "every worker on the survivor");
    const restarted: ServerProcess = await s.startServer("server-1-restarted", doomed.port);

    const books = await s.settle();
    const reaped = [...logEntries(survivor, "reaped expired leases"), ...logEntries(restarted, "reaped expired leases")];
    const lostAttempts = reaped.reduce((sum, entry) => sum + Number(entry.lost), 0);
    await s.report("server SIGKILL (workers move to the other server, restart)", books, { workersMoved: onDoomed, attemptsReaped: lostAttempts }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3040, terminal: 3040, succeeded: 3040, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    // The dead server's attempts came back through a reaper, after their leases expired.
    expect(lostAttempts).toBeGreaterThan(0);
  });
});
