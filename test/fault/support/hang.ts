/**
 * The set-up the hang tests share (a store or broker frozen with SIGSTOP under load): two
 * servers with three workers (two on the first, one on the second), 3,000 short tasks of which
 * 1,000 have ended, then 30 long ones at a higher priority that are running when the hang comes.
 */
import type { TaskwireClient } from "../../../src/client/index.js";
import { logEntries, type ServerProcess } from "./processes.js";
import type { Scenario } from "./scenario.js";

/** What {@link startLoadedPair} started. */
export interface LoadedPair {
  readonly servers: [ServerProcess, ServerProcess];
  /** A client of the first server. */
  readonly client: TaskwireClient;
  /** The ids of the long tasks, all running. */
  readonly long: string[];
  /** How many log entries containing `text` the two servers wrote. */
  count(text: string): number;
  /** The log entries containing `text` of both servers. */
  entries(text: string): Record<string, unknown>[];
}

/** Starts the pair and its load; `longTaskMs`: how long each of the 30 long tasks runs. */
export async function startLoadedPair(s: Scenario, longTaskMs: number): Promise<LoadedPair> {
  const servers: [ServerProcess, ServerProcess] = [await s.startServer("server-1"), await s.startServer("server-2")];
  const [one, two] = servers;
  const client = s.client(one.url);
  s.startWorker(one.url, { name: "w1" });
  s.startWorker(one.url, { name: "w2" });
  s.startWorker(two.url, { name: "w3" });
  await s.workersConnected(client, 3);

  await s.submit(client, 3000, { ms: 20 });
  await s.finished(1000);
  const long = await s.submit(client, 30, { ms: longTaskMs }, { priority: 10 });
  await s.running(long);
  const entries = (text: string) => servers.flatMap((server) => logEntries(server, text));
  return { servers, client, long, entries, count: (text) => entries(text).length };
}

/** Resolves once `hangMs` have passed since `startedAt`: a hang lasts, and there is nothing to await but time. */
export async function holdHang(startedAt: number, hangMs: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, hangMs - (Date.now() - startedAt))));
}
