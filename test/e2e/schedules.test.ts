/**
 * Schedules end to end, on both back ends, against one server and an in-process worker: bad
 * specs refused naming the field, a per-second schedule firing each fire time once with its
 * label (ListTasks shows its history), nothing fired while paused, TriggerSchedule firing once,
 * the overlap policies against a slow task, a worker's declared schedule (and who wins when it
 * is changed by hand), and the `taskwire schedules` commands.
 *
 * Where a test must show that something did NOT fire, it waits for a witness: another
 * per-second schedule to fire twice more, which proves the duty ran meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { anyPack, StringValueSchema, StructSchema, timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient, ScheduleSource, TaskState, type Task, type TaskwireClient } from "../../src/client/index.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, runCli, startTestServer, type TestServer } from "../support/server.js";

/** Returns its input. */
const record = defineTask({ name: "sched.record", input: StructSchema, output: StructSchema }, async (input) => input);

/** Runs until cancelled. */
const hold = defineTask({ name: "sched.hold", input: StructSchema, output: StructSchema, retries: 0 }, (_input, ctx) =>
  new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error), { once: true })),
);

/** A type whose worker declares a schedule (once a year: it never fires during the test). */
const declared = defineTask(
  {
    name: "sched.declared",
    input: StructSchema,
    output: StructSchema,
    schedules: [{ id: "sched.declared.yearly", cron: "0 0 1 1 *", timeZone: "Europe/Vienna", input: { from: "worker" }, description: "declared" }],
  },
  async (input) => input,
);

const TASKS = [record, hold, declared];

function code(error: unknown): Code | undefined {
  return error instanceof ConnectError ? error.code : undefined;
}

async function refused(call: Promise<unknown>, expected: Code, field: string): Promise<void> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(code(error), `expected ${Code[expected]}, got ${String(error)}`).toBe(expected);
  expect((error as ConnectError).rawMessage).toContain(field);
}

describe.each(BACKENDS)("schedules on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;

  /** Every task fired by `id`, oldest first. */
  async function firedBy(id: string): Promise<Task[]> {
    const page = await client.listTasks({ labels: { schedule: id }, pageSize: 1000 });
    return [...page.tasks].reverse();
  }

  /** Resolves once the witness schedule fired `more` more times: the duty ran meanwhile. */
  async function dutyRan(more = 2): Promise<void> {
    const before = (await firedBy("witness")).length;
    await eventually(async () => (await firedBy("witness")).length >= before + more, 30_000, "the witness to fire");
  }

  function startWorker(): void {
    worker = new Worker({ url: server.url, tasks: TASKS, concurrency: 8 });
    running = worker.run();
  }

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    startWorker();
    await eventually(async () => (await client.listTypes()).some((t) => t.name === declared.name && t.workerCount > 0), 60_000, "the worker");
    await client.schedules.upsert("witness", { task: record, input: { witness: true }, cron: "* * * * * *", overlap: "ALLOW", queue: "witness-parking" });
  }, 120_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    await server?.stop();
  }, 60_000);

  it("refuses bad specs with INVALID_ARGUMENT naming the field, and an unknown type with NOT_FOUND", async () => {
    const base = { task: record, input: {}, cron: "0 * * * *" };
    await refused(client.schedules.upsert("bad", { ...base, cron: "61 * * * *" }), Code.InvalidArgument, "schedule.spec.cron");
    await refused(client.schedules.upsert("bad", { ...base, cron: "* * *" }), Code.InvalidArgument, "schedule.spec.cron");
    await refused(client.schedules.upsert("bad", { ...base, timeZone: "Mars/Olympus" }), Code.InvalidArgument, "schedule.spec.time_zone");
    await refused(client.schedules.upsert("bad", { ...base, start: new Date("2030-01-02"), end: new Date("2030-01-01") }), Code.InvalidArgument, "schedule.spec.end_time");
    await refused(client.schedules.upsert("bad", { ...base, cron: undefined, every: "10ms" }), Code.InvalidArgument, "schedule.spec.interval");
    await refused(
      client.schedules.upsert("bad", { type: record.name, input: anyPack(StringValueSchema, create(StringValueSchema, { value: "text" })), cron: "0 * * * *" }),
      Code.InvalidArgument,
      "schedule.task.input",
    );
    await refused(client.schedules.upsert("bad", { type: "sched.nobody", input: {}, cron: "0 * * * *" }), Code.NotFound, "sched.nobody");
    await refused(client.schedules.upsert("bad", { ...base, labels: { "bad key": "x" } }), Code.InvalidArgument, "schedule.task.labels");
    await refused(client.schedules.upsert("bad id!", base), Code.InvalidArgument, "id");
    await refused(client.schedules.get("bad"), Code.NotFound, "bad");
    await refused(client.schedules.create("witness", base), Code.AlreadyExists, "witness");
    await refused(client.submitByName(record.name, {}, { labels: { k: "x".repeat(129) } }), Code.InvalidArgument, "labels");
    await refused(client.listTasks({ labels: { "": "x" } }), Code.InvalidArgument, "labels");
  });

  it("fires every second, each fire time once, labelled; nothing while paused; a trigger once", async () => {
    const { schedule, created } = await client.schedules.upsert("every-second", {
      task: record,
      input: { n: 1 },
      cron: "* * * * * *",
      overlap: "ALLOW",
      labels: { team: "ops" },
    });
    expect(created).toBe(true);
    expect(schedule.nextFireTimes).toHaveLength(5);
    const fired = await eventually(async () => {
      const tasks = await firedBy("every-second");
      return tasks.length >= 3 && tasks;
    }, 30_000, "three fires");
    const keys = fired.map((t) => t.idempotencyKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const task of fired) {
      expect(task.idempotencyKey).toMatch(/^schedule:every-second:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      expect(task.labels).toEqual({ schedule: "every-second", team: "ops" });
      expect(task.type).toBe(record.name);
    }
    // Consecutive seconds: no gap, no double.
    const seconds = fired.map((t) => Date.parse(t.idempotencyKey.slice("schedule:every-second:".length)) / 1000);
    expect(seconds.slice(1).map((s, i) => s - (seconds[i] ?? 0))).toEqual(seconds.slice(1).map(() => 1));
    // Upserting the same definition again changes nothing.
    expect((await client.schedules.upsert("every-second", { task: record, input: { n: 1 }, cron: "* * * * * *", overlap: "ALLOW", labels: { team: "ops" } })).created).toBe(false);

    const paused = await client.schedules.pause("every-second");
    expect(paused.paused).toBe(true);
    expect(paused.nextFireTimes).toEqual([]);
    const atPause = (await firedBy("every-second")).length;
    await dutyRan();
    expect((await firedBy("every-second")).length).toBe(atPause);

    const triggered = await client.schedules.trigger("every-second");
    expect(triggered.labels).toEqual({ schedule: "every-second", team: "ops" });
    expect(triggered.idempotencyKey).toMatch(/^schedule:every-second:/);
    await dutyRan();
    expect((await firedBy("every-second")).length).toBe(atPause + 1);
    const view = await client.schedules.get("every-second");
    expect(view.lastTaskId).toBe(triggered.id);
    expect(view.paused).toBe(true);

    const resumed = await client.schedules.resume("every-second");
    expect(resumed.paused).toBe(false);
    await eventually(async () => (await firedBy("every-second")).length >= atPause + 3, 30_000, "fires after the resume");
    await client.schedules.delete("every-second");
    await refused(client.schedules.get("every-second"), Code.NotFound, "every-second");
    // The tasks it fired stay.
    expect((await firedBy("every-second")).length).toBeGreaterThanOrEqual(atPause + 3);
  }, 120_000);

  it("skips a fire while the previous task runs (SKIP), or cancels it (CANCEL_PREVIOUS)", async () => {
    await client.schedules.upsert("hold-skip", { task: hold, cron: "* * * * * *", overlap: "SKIP" });
    const first = await eventually(async () => (await firedBy("hold-skip"))[0], 30_000, "the first fire");
    await eventually(async () => (await client.getStatus(first.id)).state === TaskState.RUNNING, 30_000, "the held task to run");
    await dutyRan(3);
    expect((await firedBy("hold-skip")).map((t) => t.id)).toEqual([first.id]);
    await client.schedules.delete("hold-skip");
    await client.cancel(first.id);

    await client.schedules.upsert("hold-cancel", { task: hold, cron: "* * * * * *", overlap: "CANCEL_PREVIOUS" });
    const fires = await eventually(async () => {
      const tasks = await firedBy("hold-cancel");
      return tasks.length >= 3 && tasks;
    }, 30_000, "three fires");
    await client.schedules.delete("hold-cancel");
    const [older] = fires;
    await eventually(async () => (await client.getStatus(older?.id ?? "")).state === TaskState.CANCELLED, 30_000, "the previous task to be cancelled");
    const last = fires.at(-1);
    if (last) await client.cancel(last.id).catch(() => undefined);
  }, 120_000);

  it("upserts a worker's declared schedule when it connects; changes made by hand stay until the declaration changes", async () => {
    const schedule = await client.schedules.get("sched.declared.yearly", { next: 2 });
    expect(schedule.definition?.task?.type).toBe(declared.name);
    expect(schedule.definition?.description).toBe("declared");
    // Midnight of 1 January in Vienna (CET) is 23:00 UTC the day before.
    expect(schedule.nextFireTimes.map((t) => timestampDate(t).toISOString().slice(5))).toEqual(["12-31T23:00:00.000Z", "12-31T23:00:00.000Z"]);
    expect(schedule.source).toBe(ScheduleSource.WORKER);
    await client.schedules.update("sched.declared.yearly", { task: declared, input: { from: "hand" }, cron: "0 0 1 1 *", timeZone: "Europe/Vienna", description: "by hand" });
    await client.schedules.pause("sched.declared.yearly");

    await worker.shutdown();
    await running;
    startWorker();
    await eventually(async () => (await client.listTypes()).some((t) => t.name === declared.name && t.workerCount > 0), 60_000, "the worker to reconnect");
    const after = await client.schedules.get("sched.declared.yearly");
    expect(after.definition?.description).toBe("by hand");
    expect(after.paused).toBe(true);
  }, 120_000);

  it("drives schedules from the CLI", async () => {
    const url = ["--url", server.url];
    const created = await runCli([...url, "schedules", "create", "cli.hourly", record.name, "--cron", "0 * * * *", "--tz", "Europe/Vienna", "--input", '{"via":"cli"}', "--label", "team=ops"]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toMatch(/^created schedule cli\.hourly: next fire at \d{4}-\d\d-\d\dT\d\d:00:00Z\n$/);
    const list = await runCli([...url, "schedules", "list"]);
    expect(list.stdout).toMatch(/cli\.hourly\s+sched\.record\s+0 \* \* \* \* \(Europe\/Vienna\)\s+ACTIVE/);
    const get = await runCli([...url, "schedules", "get", "cli.hourly", "--next", "2"]);
    expect(get.stdout).toMatch(/^input:\s+\{"via":"cli"\}$/m);
    expect(get.stdout).toMatch(/^labels:\s+team=ops$/m);
    const trigger = await runCli([...url, "schedules", "trigger", "cli.hourly"]);
    const id = trigger.stdout.trim();
    const status = await runCli([...url, "status", id]);
    expect(status.stdout).toMatch(/labels:\s+schedule=cli\.hourly, team=ops/);
    const bad = await runCli([...url, "schedules", "create", "cli.bad", record.name, "--cron", "0 0 * * *", "--tz", "Nowhere/City"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("schedule.spec.time_zone");
    expect((await runCli([...url, "schedules", "pause", "cli.hourly"])).stdout).toBe("paused schedule cli.hourly: nothing fires until it is resumed\n");
    expect((await runCli([...url, "schedules", "delete", "cli.hourly"])).stdout).toBe("deleted schedule cli.hourly\n");
  }, 120_000);
});

describe("taskwire schedules next (no server)", () => {
  it("previews the spring-forward fire of a 02:30 Vienna schedule at 03:00", async () => {
    const next = await runCli(["schedules", "next", "30 2 * * *", "--tz", "Europe/Vienna", "--from", "2026-03-27T12:00:00Z", "--count", "3"]);
    expect(next.code).toBe(0);
    expect(next.stdout.split("\n").slice(0, 4)).toEqual([
      expect.stringMatching(/^UTC\s+Europe\/Vienna$/),
      expect.stringMatching(/^2026-03-28T01:30:00Z\s+2026-03-28 02:30:00 (CET|GMT\+1)$/),
      expect.stringMatching(/^2026-03-29T01:00:00Z\s+2026-03-29 03:00:00 (CEST|GMT\+2)$/),
      expect.stringMatching(/^2026-03-30T00:30:00Z\s+2026-03-30 02:30:00 (CEST|GMT\+2)$/),
    ]);
    const bad = await runCli(["schedules", "next", "61 * * * *"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("61 * * * *");
  }, 60_000);
});
