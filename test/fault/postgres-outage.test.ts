/**
 * PostgreSQL stopped under load (a private instance, fast shutdown), then started again:
 * `Submit` answers UNAVAILABLE meanwhile and nothing it refused is stored; the results workers
 * report meanwhile are kept and retried (their leases kept), so none is lost and no task runs
 * twice; the server resumes by itself.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { batchItem } from "../../src/client/index.js";
import { eventually } from "../support/server.js";
import { deleteKeysWithPrefix, TEST_REDIS_URL } from "../support/redis.js";
import { work } from "./support/fault-tasks.js";
import { startPrivatePostgres, type PrivatePostgres } from "./support/private-postgres.js";
import { logEntries } from "./support/processes.js";
import { FAULT_TEST_TIMEOUT_MS, Scenario } from "./support/scenario.js";

/** Longer than the lease timeout (3 s): results held through it must keep their leases. */
const OUTAGE_MS = 5_000;

describe("PostgreSQL unavailable", () => {
  let postgres: PrivatePostgres;
  let scenario: Scenario | undefined;

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
  }, 60_000);

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  afterAll(async () => {
    await postgres?.destroy();
  });

  it("refuses submissions, keeps workers' results, and resumes by itself", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await Scenario.create({
      redisUrl: TEST_REDIS_URL,
      databaseUrl: postgres.url,
      deleteKeys: async (prefix) => {
        await deleteKeysWithPrefix(prefix);
      },
    }));
    const server = await s.startServer("server");
    const client = s.client(server.url);
    for (const name of ["w1", "w2", "w3"]) s.startWorker(server.url, { name });
    await s.workersConnected(client, 3);

    await s.submit(client, 3000, { ms: 20 });
    await s.finished(1000);
    // 30 tasks ahead of the rest, which end during the outage: their results must wait for
    // PostgreSQL, not be lost (nor their tasks run again).
    await s.running(await s.submit(client, 30, { ms: 3_000 }, { priority: 10 }));

    await postgres.stop();
    const outageStarted = Date.now();
    const refused = await client.submitBatch([batchItem(work, { ms: 20 })]).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refused?.code).toBe(Code.Unavailable);
    const refusedOne = await client.submit(work, { ms: 20 }).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(refusedOne?.code).toBe(Code.Unavailable);
    await eventually(async () => logEntries(server, "could not record an outcome").length > 0, 10_000, "a result held back");
    // The outage lasts: nothing to wait for but time.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
    await postgres.start();

    const books = await s.settle();
    const retried = logEntries(server, "outcome recorded after PostgreSQL came back").length;
    await s.report("PostgreSQL stopped 5 s, then started", books, { outageMs: OUTAGE_MS, resultsHeldAndRetried: retried, submissionsRefused: 2 }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3030, stored: 3030, terminal: 3030, succeeded: 3030, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    expect(retried).toBeGreaterThan(0);
    // No result was dropped: no task ran twice.
    expect(books.rerun).toBe(0);
  });
});
