/**
 * Redis hung under load: a private `redis-server` frozen with SIGSTOP (connections stay open,
 * nothing answers, its data kept) for longer than three lease timeouts, then let go. Two servers
 * share it, with workers on both.
 *
 * While it hangs, `Submit` is acknowledged within the Redis command timeout (PostgreSQL, the
 * truth, took the task; the index follows once Redis answers) and calls that need Redis answer
 * UNAVAILABLE within it, instead of hanging until Redis resumes; lease renewals give up and are
 * sent again in time, so that once Redis runs what it was sent no lease has lapsed. Every task
 * ends once, none runs twice.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TEST_DATABASE_URL } from "../support/database.js";
import { startPrivateRedis, type PrivateRedis } from "../support/private-redis.js";
import { work } from "./support/fault-tasks.js";
import { holdHang, startLoadedPair } from "./support/hang.js";
import { FAULT_TEST_TIMEOUT_MS, Scenario } from "./support/scenario.js";

/** How long Redis hangs: more than three lease timeouts (3 s). */
const HANG_MS = 10_000;
/** The client's deadline of the calls made during the hang: far past the Redis command timeout (1 s with a 3 s lease). */
const CALL_DEADLINE_MS = 20_000;

describe("Redis hung (SIGSTOP)", () => {
  let redis: PrivateRedis;
  let scenario: Scenario | undefined;

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });

  afterEach(async () => {
    redis?.resume();
    await scenario?.cleanup();
    scenario = undefined;
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it("acknowledges submissions and refuses what needs Redis in bounded time, and runs no task twice", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const s = (scenario = await Scenario.create({ redisUrl: redis.url, databaseUrl: TEST_DATABASE_URL }));
    // 30 tasks that run through the hang: their leases must survive it on both servers.
    const { client, count, entries } = await startLoadedPair(s, 12_000);

    redis.pause();
    const hangStarted = Date.now();
    const submitStarted = Date.now();
    const during = await client.submit(work, { ms: 20 }, undefined, { timeoutMs: CALL_DEADLINE_MS });
    const submitMs = Date.now() - submitStarted;
    s.acknowledged.push(during.id);
    // Following a task needs Redis (its events): refused, not left hanging.
    const followStarted = Date.now();
    const follow = await (async () => {
      for await (const event of client.streamProgress(during.id, { timeoutMs: CALL_DEADLINE_MS })) void event;
    })().then(
      () => "OK" as const,
      (error: unknown) => ConnectError.from(error).code,
    );
    const followMs = Date.now() - followStarted;
    // Both answered while Redis still hangs: it is let go only below.
    expect(follow).toBe(Code.Unavailable);
    await holdHang(hangStarted, HANG_MS);
    redis.resume();

    const books = await s.settle();
    const reaped = entries("reaped expired leases");
    await s.report(
      "Redis hung (SIGSTOP) 10 s, two servers",
      books,
      {
        hangMs: HANG_MS,
        submitAcknowledgedMs: submitMs,
        streamProgressAnsweredMs: followMs,
        submittedButNotIndexed: count("stored but not indexed yet"),
        repairs: count("repairing the dispatch index"),
        leasesReapedLost: reaped.reduce((sum, e) => sum + Number(e.lost), 0),
      },
      annotate,
    );
    expect(books, s.tails()).toMatchObject({ submitted: 3031, stored: 3031, terminal: 3031, succeeded: 3031, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    // The marker survived the hang: no server rebuilt the index from scratch.
    expect(count("the dispatch index was lost")).toBe(0);
    // The long tasks kept their leases through the hang: none was lost, none ran twice.
    expect(books).toMatchObject({ rerun: 0, retried: 0 });
  });
});
