/**
 * Exactly one fire per fire time across a fleet: three servers share Redis and PostgreSQL (one
 * key prefix, one schema) and a per-second schedule. The server holding the schedules duty is
 * restarted in the middle of the firing (closed while fires happen every second, then started
 * again on the same state): another server takes the duty over and fires what came due
 * meanwhile, late. Every second of the run has exactly one task, none twice, none missing.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { createClient, type Task, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { eventually, startTestServer, type TestServer } from "../support/server.js";

/** A logger that says whether its server holds the schedules duty. */
function dutyWatcher() {
  let holds = false;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line.includes('"duty":"schedules"')) continue;
        if (line.includes("this server runs the duty now")) holds = true;
        if (line.includes("another server runs the duty")) holds = false;
      }
      done();
    },
  });
  return {
    logger: pino({ level: "info" }, stream),
    get holds() {
      return holds;
    },
  };
}

describe("schedules on a fleet of three servers (Redis + PostgreSQL)", () => {
  const servers: (TestServer | undefined)[] = [];
  const watchers = [dutyWatcher(), dutyWatcher(), dutyWatcher()];
  let first: TestServer;
  let client: TaskwireClient;

  async function fired(): Promise<Task[]> {
    const page = await client.listTasks({ labels: { schedule: "fleet.every-second" }, pageSize: 1000 });
    return [...page.tasks].reverse();
  }

  beforeAll(async () => {
    first = await startTestServer({}, watchers[0]?.logger, "redis+postgres");
    servers.push(first);
    const shared = { redisPrefix: first.config.redisPrefix, databaseSchema: first.config.databaseSchema };
    for (const watcher of watchers.slice(1)) servers.push(await startTestServer(shared, watcher.logger, "redis+postgres"));
    client = createClient({ url: servers[2]?.url ?? "" });
    // The type must be in the catalog: a short-lived worker declares it.
    const { Worker } = await import("../../src/worker/index.js");
    const worker = new Worker({ url: first.url, tasks: [fixtures.echo], queues: ["fleet-parking"] });
    const running = worker.run();
    await eventually(async () => (await client.listTypes()).some((t) => t.name === fixtures.echo.spec.name), 60_000, "the type");
    await worker.shutdown();
    await running;
  }, 180_000);

  afterAll(async () => {
    client?.close();
    for (const server of servers.slice(1)) await server?.server.close();
    await first?.stop();
  }, 60_000);

  it("fires each second once, through a restart of the server holding the duty", async () => {
    // Tasks go to a queue no worker serves: they stay QUEUED (ALLOW: no overlap check needed).
    await client.schedules.upsert("fleet.every-second", { task: fixtures.echo, input: {}, cron: "* * * * * *", overlap: "ALLOW", queue: "fleet-parking" });
    await eventually(async () => (await fired()).length >= 4, 30_000, "four fires");

    const holder = await eventually(async () => {
      const index = watchers.findIndex((w) => w.holds);
      return index >= 0 ? index : undefined;
    }, 30_000, "a holder of the duty");
    const restarted = servers[holder];
    if (!restarted) throw new Error("no such server");
    await restarted.server.close();
    const beforeRestart = (await fired()).length;
    // The others take over (the lease is given up on close) and fire on.
    await eventually(async () => (await fired()).length >= beforeRestart + 3, 60_000, "fires after the holder stopped");
    servers[holder] = await startTestServer(
      { redisPrefix: first.config.redisPrefix, databaseSchema: first.config.databaseSchema },
      watchers[holder]?.logger,
      "redis+postgres",
    );
    const afterRestart = (await fired()).length;
    await eventually(async () => (await fired()).length >= afterRestart + 3, 60_000, "fires after the restart");
    await client.schedules.pause("fleet.every-second");

    const tasks = await fired();
    const seconds = tasks.map((t) => Date.parse(t.idempotencyKey.slice("schedule:fleet.every-second:".length)) / 1000);
    expect(new Set(seconds).size).toBe(seconds.length);
    expect(seconds.slice(1).map((s, i) => s - (seconds[i] ?? 0))).toEqual(seconds.slice(1).map(() => 1));
    expect(tasks.length).toBeGreaterThanOrEqual(10);
  }, 240_000);
});
