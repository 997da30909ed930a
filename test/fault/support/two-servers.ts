/**
 * Two servers of one scenario behind a TCP balancer, with four workers connected through it, for
 * the tests that take the first server away (SIGTERM drain, SIGKILL): the balancer hands workers
 * to both servers in turn, so the first server's workers have somewhere to move to.
 */
import type { TaskwireClient } from "../../../src/client/index.js";
import { logEntries, type ServerProcess } from "./processes.js";
import type { Scenario } from "./scenario.js";

/** The servers started by {@link startTwoServers}. */
export interface TwoServers {
  /** `server-1`, the one the fault hits. */
  readonly first: ServerProcess;
  /** `server-2`, the one that stays up. */
  readonly second: ServerProcess;
  /** A client of the second server. */
  readonly client: TaskwireClient;
  /** How many workers the balancer gave the first server. */
  readonly workersOnFirst: number;
}

/**
 * Starts two servers, a balancer over them (closed with the scenario) and workers `w1` to `w4`
 * through it; resolves once all four are connected.
 */
export async function startTwoServers(s: Scenario): Promise<TwoServers> {
  const first = await s.startServer("server-1");
  const second = await s.startServer("server-2");
  const balancer = await s.startBalancer([first.port, second.port]);
  const client = s.client(second.url);
  for (const name of ["w1", "w2", "w3", "w4"]) s.startWorker(balancer.url, { name });
  await s.workersConnected(client, 4);
  return { first, second, client, workersOnFirst: logEntries(first, "worker connected").length };
}

/**
 * The load the fault comes in: 40 tasks of `longTaskMs`, submitted first so that some of them are
 * running when it comes, then 3,000 of 20 ms; resolves once 1,000 tasks are terminal.
 */
export async function submitLoad(s: Scenario, client: TaskwireClient, longTaskMs: number): Promise<void> {
  await s.submit(client, 40, { ms: longTaskMs });
  await s.submit(client, 3000, { ms: 20 });
  await s.finished(1000);
}
