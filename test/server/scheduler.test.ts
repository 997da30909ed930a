/**
 * The scheduler's fire path on a real PostgreSQL store with an injected clock (`SchedulerDeps.now`):
 * catch-up after downtime, the spring-forward fire of a Vienna schedule, and two schedulers on
 * two connection pools firing the same due schedules at once (the lease bypassed), which must
 * give exactly one task per fire time.
 */
import { createMutableRegistry } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { silentLogger } from "../../src/core/logger.js";
import type { ScheduleDefinitionRecord } from "../../src/core/schedule-types.js";
import { Catalog } from "../../src/server/engine/catalog.js";
import type { ControlPlane } from "../../src/server/engine/control-plane.js";
import { Scheduler } from "../../src/server/engine/scheduler.js";
import { TaskSubmitter } from "../../src/server/engine/submitter.js";
import { TaskEvents } from "../../src/server/engine/task-events.js";
import { parseHello } from "../../src/server/rpc/hello.js";
import { createPostgresStore } from "../../src/store/postgres-store.js";
import type { TaskStore } from "../../src/store/store.js";
import { buildHello, taskDeclaration } from "../../src/worker/hello.js";
import { defineTask } from "../../src/worker/index.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { createTestStore } from "../support/database.js";

const echo = defineTask({ name: "sched.unit", input: StructSchema, output: StructSchema }, async (input) => input);

/** A scheduler over `store` whose clock reads `clock.now`. */
async function schedulerOn(store: TaskStore, clock: { now: number }): Promise<{ scheduler: Scheduler; close: () => Promise<void> }> {
  const logger = silentLogger();
  const broker = new MemoryBroker();
  const catalog = new Catalog(store, 1 << 20, createMutableRegistry());
  const hello = buildHello({ workerId: "w", host: "h", pid: 1, queues: ["default"], slots: 1, burst: false }, [echo], [taskDeclaration(echo)]);
  await catalog.declare(parseHello(hello), new Date(clock.now));
  // Cancels (CANCEL_PREVIOUS) are not exercised here.
  const control = { cancel: async () => undefined } as unknown as ControlPlane;
  const submitter = new TaskSubmitter({ store, broker, events: new TaskEvents(broker, logger), control, logger, onScheduled: () => undefined });
  return { scheduler: new Scheduler({ store, catalog, submitter, logger, now: () => clock.now }), close: () => broker.close() };
}

function definition(cron: string, more: Partial<ScheduleDefinitionRecord> = {}): ScheduleDefinitionRecord {
  return {
    spec: { cron, timeZone: "UTC", jitterMs: 0 },
    type: echo.name,
    inputTypeUrl: "type.googleapis.com/google.protobuf.Struct",
    input: new Uint8Array(),
    options: { queue: "parking", labels: {} },
    overlap: "ALLOW",
    catchUp: "SKIP_MISSED",
    catchUpLimit: 100,
    description: "",
    ...more,
  };
}

async function keysOf(store: TaskStore, id: string): Promise<string[]> {
  const { tasks } = await store.listTasks({ limit: 1000, labels: { schedule: id } });
  return tasks.map((t) => t.idempotencyKey ?? "").sort();
}

describe("scheduler", () => {
  const cleanups = cleanupsAfterEach();

  it("catches up after downtime by its policy, and fires a 02:30 Vienna schedule at 03:00 on the spring-forward day", async () => {
    const { store, cleanup } = await createTestStore();
    cleanups.push(cleanup);
    const clock = { now: Date.parse("2026-06-01T10:00:30Z") };
    const { scheduler, close } = await schedulerOn(store, clock);
    cleanups.push(close);
    await scheduler.create("skip", definition("* * * * *"), false);
    await scheduler.create("all", definition("* * * * *", { catchUp: "RUN_ALL", catchUpLimit: 3 }), false);
    await scheduler.create("once", definition("* * * * *", { catchUp: "RUN_ONCE" }), false);

    // Ten minutes without a server: 10:01 … 10:10 missed, 10:11 late (5 s).
    clock.now = Date.parse("2026-06-01T10:11:05Z");
    expect(await scheduler.fireDue()).toBe(1 + 4 + 2);
    const at = (hhmm: string) => `2026-06-01T${hhmm}:00.000Z`;
    expect(await keysOf(store, "skip")).toEqual([`schedule:skip:${at("10:11")}`]);
    expect(await keysOf(store, "all")).toEqual(["10:08", "10:09", "10:10", "10:11"].map((t) => `schedule:all:${at(t)}`));
    expect(await keysOf(store, "once")).toEqual(["10:10", "10:11"].map((t) => `schedule:once:${at(t)}`));
    expect((await scheduler.get("skip")).nextFireAt?.toISOString()).toBe(at("10:12"));
    // Nothing is due again at the same time.
    expect(await scheduler.fireDue()).toBe(0);

    clock.now = Date.parse("2026-03-28T12:00:00Z");
    await scheduler.create("vienna", definition("30 2 * * *", { spec: { cron: "30 2 * * *", timeZone: "Europe/Vienna", jitterMs: 0 } }), false);
    await scheduler.pause("skip");
    await scheduler.pause("all");
    await scheduler.pause("once");
    clock.now = Date.parse("2026-03-29T00:59:59.900Z"); // 01:59:59.9 CET, just before the gap
    expect(await scheduler.fireDue()).toBe(0);
    clock.now = Date.parse("2026-03-29T01:00:00.100Z"); // 03:00:00.1 CEST
    expect(await scheduler.fireDue()).toBe(1);
    expect(await keysOf(store, "vienna")).toEqual(["schedule:vienna:2026-03-29T01:00:00.000Z"]);
    expect((await scheduler.get("vienna")).nextFireAt?.toISOString()).toBe("2026-03-30T00:30:00.000Z");
  }, 60_000);

  it("gives one task per fire time when two schedulers on two pools fire the same schedules at once", async () => {
    const { store, url, schema, cleanup } = await createTestStore();
    cleanups.push(cleanup);
    const other = createPostgresStore({ url, schema, logger: silentLogger() });
    cleanups.push(() => other.close());
    const clock = { now: Date.parse("2026-06-01T10:00:00.500Z") };
    const a = await schedulerOn(store, clock);
    const b = await schedulerOn(other, clock);
    cleanups.push(a.close, b.close);
    const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    for (const id of ids) await a.scheduler.create(id, definition("* * * * * *"), false);

    for (let second = 1; second <= 5; second++) {
      clock.now = Date.parse("2026-06-01T10:00:00.500Z") + second * 1000;
      await Promise.all([a.scheduler.fireDue(), b.scheduler.fireDue(), a.scheduler.fireDue(), b.scheduler.fireDue()]);
    }
    for (const id of ids) {
      expect(await keysOf(store, id)).toEqual([1, 2, 3, 4, 5].map((s) => `schedule:${id}:2026-06-01T10:00:0${s}.000Z`));
    }
  }, 120_000);
});
