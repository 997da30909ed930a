/**
 * Redis lost under load, on a private `redis-server` shared by two servers: flushed
 * (`FLUSHALL`), then stopped and started again empty. One server notices the missing index
 * marker, rebuilds the index from PostgreSQL (queued, scheduled and running tasks), the other
 * adopts it, and every task still ends once. Then Redis unreachable for a while with its data
 * kept (a cut line): what was submitted meanwhile is acknowledged (PostgreSQL took it) and
 * indexed by a repair once Redis answers.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TaskwireClient } from "../../src/client/index.js";
import { TEST_DATABASE_URL } from "../support/database.js";
import { startPrivateRedis, type PrivateRedis } from "../support/private-redis.js";
import { logEntries, type ServerProcess } from "./support/processes.js";
import { startTcpBalancer } from "./support/tcp-balancer.js";
import { FAULT_TEST_TIMEOUT_MS, Scenario } from "./support/scenario.js";

const LOST = "the dispatch index was lost";
const ADOPTED = "rebuilt by another server; adopted";
const REBUILT = "rebuilt the dispatch index from the database";

describe("Redis lost under load", () => {
  let redis: PrivateRedis;
  let scenario: Scenario | undefined;

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });

  afterEach(async () => {
    await scenario?.cleanup();
    scenario = undefined;
  });

  afterAll(async () => {
    await redis?.stop();
  });

  /** Two servers on the private Redis; two workers on the first, one on the second. */
  async function twoServers(): Promise<{ s: Scenario; servers: ServerProcess[] }> {
    const s = (scenario = await Scenario.create({ redisUrl: redis.url, databaseUrl: TEST_DATABASE_URL }));
    const servers = [await s.startServer("server-1"), await s.startServer("server-2")];
    const [one, two] = servers as [ServerProcess, ServerProcess];
    s.startWorker(one.url, { name: "w1" });
    s.startWorker(one.url, { name: "w2" });
    s.startWorker(two.url, { name: "w3" });
    await s.workersConnected(s.client(one.url), 3);
    return { s, servers };
  }

  /**
   * 3,000 short tasks and 300 delayed ones; once 1,000 are done, 30 long ones ahead of the rest
   * (priority), which are running when Redis is lost: the rebuild must give their leases back.
   */
  async function load(s: Scenario, client: TaskwireClient): Promise<void> {
    await s.submit(client, 3000, { ms: 20 });
    await s.submit(client, 300, { ms: 20 }, { delay: 3_000 });
    await s.finished(1000);
    await s.running(await s.submit(client, 30, { ms: 10_000 }, { priority: 10 }));
  }

  /** The rebuild after the loss: which server did it and what it reported. */
  function rebuildAfterLoss(servers: ServerProcess[]): { rebuilder: ServerProcess; report: Record<string, unknown> } {
    const rebuilders = servers.filter((server) => logEntries(server, LOST).length > 0);
    expect(rebuilders, "exactly one server rebuilds").toHaveLength(1);
    const rebuilder = rebuilders[0] as ServerProcess;
    expect(logEntries(rebuilder, LOST)).toHaveLength(1);
    for (const other of servers.filter((server) => server !== rebuilder)) expect(logEntries(other, ADOPTED)).toHaveLength(1);
    const report = logEntries(rebuilder, REBUILT).at(-1);
    expect(report).toBeDefined();
    return { rebuilder, report: report as Record<string, unknown> };
  }

  it("rebuilds the index after FLUSHALL", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const { s, servers } = await twoServers();
    const client = s.client(servers[0]!.url);
    await load(s, client);

    const admin = new Redis(redis.url);
    await admin.flushall();
    await admin.quit();

    const books = await s.settle();
    const { report } = rebuildAfterLoss(servers);
    await s.report("Redis FLUSHALL", books, { rebuildMs: Number(report.durationMs), rebuildQueued: Number(report.queued), rebuildScheduled: Number(report.scheduled), rebuildLeased: Number(report.leased) }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3330, terminal: 3330, succeeded: 3330, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    // The running attempts kept their lease through the rebuild: none was lost, none ran twice.
    expect(Number(report.leased)).toBeGreaterThanOrEqual(30);
    expect(books).toMatchObject({ retried: 0, rerun: 0 });
  });

  it("rebuilds the index after Redis restarted empty, with tasks submitted while it was down", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const { s, servers } = await twoServers();
    const client = s.client(servers[0]!.url);
    await load(s, client);

    await redis.stop();
    // PostgreSQL, the truth, still takes submissions: they are acknowledged and indexed later.
    await s.submit(client, 500, { ms: 20 });
    await redis.start();

    const books = await s.settle();
    const { report } = rebuildAfterLoss(servers);
    await s.report("Redis restarted empty", books, { rebuildMs: Number(report.durationMs), rebuildQueued: Number(report.queued), rebuildScheduled: Number(report.scheduled), rebuildLeased: Number(report.leased) }, annotate);
    expect(books, s.tails()).toMatchObject({ submitted: 3830, terminal: 3830, succeeded: 3830, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
    expect(Number(report.leased)).toBeGreaterThanOrEqual(30);
    expect(books).toMatchObject({ retried: 0, rerun: 0 });
  });

  it("indexes what was submitted while Redis was unreachable, once it answers again", { timeout: FAULT_TEST_TIMEOUT_MS }, async ({ annotate }) => {
    const line = await startTcpBalancer([redis.port]);
    try {
      const s = (scenario = await Scenario.create({ redisUrl: line.url.replace("http:", "redis:"), databaseUrl: TEST_DATABASE_URL }));
      const server = await s.startServer("server");
      const client = s.client(server.url);
      for (const name of ["w1", "w2", "w3"]) s.startWorker(server.url, { name });
      await s.workersConnected(client, 3);
      await s.submit(client, 2000, { ms: 20 });
      await s.finished(500);

      await line.cut();
      const during = await s.submit(client, 500, { ms: 20 });
      expect(during).toHaveLength(500);
      await line.restore();

      const books = await s.settle();
      const repairs = logEntries(server, "repairing the dispatch index").length;
      await s.report("Redis unreachable (line cut, data kept), 500 submitted meanwhile", books, { repairs }, annotate);
      expect(books, s.tails()).toMatchObject({ submitted: 2500, terminal: 2500, succeeded: 2500, lost: 0, duplicated: 0, implausible: 0, repeatedAttempts: 0 });
      expect(repairs).toBeGreaterThan(0);
      // The marker survived: nothing was lost, so no server rebuilt from scratch.
      expect(logEntries(server, LOST)).toHaveLength(0);
    } finally {
      await line.close();
    }
  });
});
