/**
 * PostgreSQL hung under load: a private instance frozen with SIGSTOP (its connections stay open
 * and answer nothing, as a stopped VM or a network that drops packets) for longer than three lease
 * timeouts, then let go. Two servers share it, with workers on both, so that a lease either one
 * fails to renew is reaped by the other.
 *
 * While it hangs, calls that need PostgreSQL answer UNAVAILABLE within the database timeout (not
 * at the client's deadline); leases are renewed in Redis, not behind PostgreSQL writes; claims
 * whose read of their tasks PostgreSQL does not answer keep their leases and read again once it
 * answers (an attempt starts in the claim, nothing is written before the worker has it); starts
 * and results are kept and retried. Once it resumes, every task ends once and none runs twice.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deleteKeysWithPrefix, TEST_REDIS_URL } from "../support/redis.js";
import { work } from "./support/fault-tasks.js";
import { startPrivatePostgres, type PrivatePostgres } from "./support/private-postgres.js";
import { holdHang, startLoadedPair } from "./support/hang.js";
import { FAULT_TEST_TIMEOUT_MS, Scenario } from "./support/scenario.js";

/** How long PostgreSQL hangs: more than three lease timeouts (3 s). */
const HANG_MS = 10_000;
/** The servers' `TASKWIRE_DATABASE_TIMEOUT`. */
const DATABASE_TIMEOUT = "2s";
/** The client's deadline of the calls made during the hang: far past the database timeout. */
const CALL_DEADLINE_MS = 20_000;

/** How a call made during the hang ended, and when. */
async function outcome(call: Promise<unknown>): Promise<{ code: Code | "OK"; ms: number }> {
  const started = Date.now();
  const code = await call.then(
    () => "OK" as const,
    (error: unknown) => ConnectError.from(error).code,
  );
  return { code, ms: Date.now() - started };
}

describe("PostgreSQL hung (SIGSTOP)", () => {
  let postgres: PrivatePostgres;
  let scenario: Scenario | undefined;

  beforeAll(async () => {
    postgres = await startPrivatePostgres();
  }, 60_000);

  afterEach(async () => {
    postgres?.resume();
    await scenario?.cleanup();
    scenario = undefined;
  });

  afterAll(async () => {
    await postgres?.destroy();
  });

  it("answers UNAVAILABLE in bounded time, keeps every lease, and runs no task twice", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await Scenario.create({
      redisUrl: TEST_REDIS_URL,
      databaseUrl: postgres.url,
      deleteKeys: async (prefix) => {
        await deleteKeysWithPrefix(prefix);
      },
      serverEnv: { TASKWIRE_DATABASE_TIMEOUT: DATABASE_TIMEOUT },
    }));
    // 30 tasks ahead of the rest, which end during the hang: their results must wait for
    // PostgreSQL, their leases kept meanwhile on both servers.
    const { client, long, count, entries } = await startLoadedPair(s, 3_000);

    postgres.pause();
    const hangStarted = Date.now();
    const submitted = await outcome(client.submit(work, { ms: 20 }, undefined, { timeoutMs: CALL_DEADLINE_MS }));
    const status = await outcome(client.getStatus(long[0] ?? "", { timeoutMs: CALL_DEADLINE_MS }));
    // Both answered while PostgreSQL still hangs: it is let go only below.
    expect(submitted.code).toBe(Code.Unavailable);
    expect(status.code).toBe(Code.Unavailable);
    await holdHang(hangStarted, HANG_MS);
    postgres.resume();

    const books = await s.settle();
    const waiting = count("a claim's read was not answered");
    const answered = entries("claim read its tasks once PostgreSQL and Redis answered");
    await s.report(
      "PostgreSQL hung (SIGSTOP) 10 s, two servers",
      books,
      {
        hangMs: HANG_MS,
        databaseTimeout: DATABASE_TIMEOUT,
        submitAnsweredMs: submitted.ms,
        getStatusAnsweredMs: status.ms,
        claimsWaiting: waiting,
        claimsAnswered: answered.length,
        startWritesRetried: count("could not write attempt starts"),
        resultsHeldAndRetried: count("outcome recorded after PostgreSQL came back"),
        leasesReapedLost: entries("reaped expired leases").reduce((sum, e) => sum + Number(e.lost), 0),
      },
      annotate,
    );
    // The refused submission may still have been stored: its INSERT was sent before the hang
    // was noticed, and PostgreSQL ran it when it resumed (README: resubmit with an idempotency key).
    expect(books.stored - books.submitted).toBeLessThanOrEqual(1);
    expect(books, s.tails()).toMatchObject({ submitted: 3030, terminal: books.stored, succeeded: books.stored, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    // Claims were made while PostgreSQL hung, and read their tasks once it answered.
    expect(waiting).toBeGreaterThan(0);
    expect(answered.length).toBe(waiting);
    // No lease lapsed, no attempt was lost, no task ran twice.
    expect(books).toMatchObject({ rerun: 0, retried: 0 });
  });
});
