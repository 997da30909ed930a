/**
 * Schedules and labels in a `TaskStore`, written against the interface only (registered by
 * `describeStoreContract`, so PostgreSQL and PGlite both run it): writing and replacing
 * definitions, worker declarations that leave changes made by hand alone, pause and resume, the
 * due schedules, fires fenced by the revision (two racing fires give one task), and tasks
 * filtered by labels.
 */
import { uuidv7 } from "uuidv7";
import { expect, it } from "vitest";
import type { NewSchedule, TaskStore } from "../../src/store/store.js";
import { at, insertOne, newTask } from "./fixtures.js";

/** A schedule of `demo.echo` firing every minute. */
function schedule(id: string, overrides: Partial<NewSchedule> = {}): NewSchedule {
  return {
    id,
    spec: { cron: "* * * * *", timeZone: "UTC", jitterMs: 0 },
    type: "demo.echo",
    inputTypeUrl: "type.googleapis.com/google.protobuf.Struct",
    input: new Uint8Array([1, 2]),
    options: { queue: "", labels: { team: "ops" } },
    overlap: "SKIP",
    catchUp: "SKIP_MISSED",
    catchUpLimit: 100,
    description: "",
    pausedAt: null,
    nextFireAt: at(60_000),
    source: "API",
    declaredHash: null,
    ...overrides,
  };
}

/** A fire's task of schedule `id` at `fireMs`. */
function fireTask(id: string, fireMs: number) {
  return newTask({ idempotencyKey: `schedule:${id}:${new Date(fireMs).toISOString()}`, labels: { schedule: id } });
}

/** Registers the suite; `freshStore` gives a migrated, empty store of the test's own. */
export function describeScheduleContract(freshStore: () => Promise<TaskStore>): void {
  it("creates once, replaces keeping the due fire time of an unchanged spec, and keeps a pause", async () => {
    const store = await freshStore();
    expect(await store.createSchedule(schedule("a"), at(0))).toBe(true);
    expect(await store.createSchedule(schedule("a", { description: "again" }), at(1))).toBe(false);
    const created = await store.getSchedule("a");
    expect(created).toMatchObject({ id: "a", revision: 1, nextFireAt: at(60_000), lastTaskState: null, options: { labels: { team: "ops" } } });
    expect(created?.input).toEqual(new Uint8Array([1, 2]));

    // Same spec, later "now": the stored next fire time stays (it may be due).
    expect(await store.upsertSchedule(schedule("a", { description: "v2", nextFireAt: at(120_000) }), at(2))).toBe(false);
    expect(await store.getSchedule("a")).toMatchObject({ description: "v2", nextFireAt: at(60_000), revision: 2 });
    // A new spec takes its own next fire time.
    const hourly = { cron: "0 * * * *", timeZone: "UTC", jitterMs: 0 };
    expect(await store.updateSchedule(schedule("a", { spec: hourly, nextFireAt: at(3_600_000) }), at(3))).toBe(true);
    expect(await store.getSchedule("a")).toMatchObject({ spec: hourly, nextFireAt: at(3_600_000), revision: 3 });
    expect(await store.updateSchedule(schedule("missing"), at(3))).toBe(false);

    expect(await store.setSchedulePaused("a", at(4), null, at(4))).toBe(true);
    expect(await store.setSchedulePaused("a", at(5), null, at(5))).toBe(true);
    expect(await store.getSchedule("a")).toMatchObject({ pausedAt: at(4), nextFireAt: null });
    await store.upsertSchedule(schedule("a", { spec: { ...hourly, cron: "5 * * * *" } }), at(6));
    expect(await store.getSchedule("a")).toMatchObject({ pausedAt: at(4), nextFireAt: null });
    expect(await store.dueSchedules(at(10 * 3_600_000), 10)).toEqual([]);
    expect(await store.setSchedulePaused("a", null, at(7_200_000), at(7))).toBe(true);
    expect(await store.getSchedule("a")).toMatchObject({ pausedAt: null, nextFireAt: at(7_200_000) });

    expect(await store.upsertSchedule(schedule("b"), at(8))).toBe(true);
    expect((await store.listSchedules({ limit: 10 })).map((s) => s.id)).toEqual(["a", "b"]);
    expect((await store.listSchedules({ limit: 10, afterId: "a" })).map((s) => s.id)).toEqual(["b"]);
    expect(await store.listSchedules({ limit: 10, type: "demo.other" })).toEqual([]);
    expect(await store.deleteSchedule("b")).toBe(true);
    expect(await store.deleteSchedule("b")).toBe(false);
    expect(await store.getSchedule("b")).toBeUndefined();
  });

  it("writes a worker's declaration only when it changed, so changes made by hand stay", async () => {
    const store = await freshStore();
    expect(await store.declareSchedules([schedule("d", { source: "WORKER", declaredHash: "h1" })], at(0))).toEqual(["d"]);
    // Changed by hand: a new description, and paused.
    await store.updateSchedule(schedule("d", { description: "by hand" }), at(1));
    await store.setSchedulePaused("d", at(2), null, at(2));
    // The same declaration again: nothing written.
    expect(await store.declareSchedules([schedule("d", { source: "WORKER", declaredHash: "h1" })], at(3))).toEqual([]);
    expect(await store.getSchedule("d")).toMatchObject({ description: "by hand", source: "API", pausedAt: at(2) });
    // A new declaration wins over the hand-made definition, but the pause stays.
    expect(await store.declareSchedules([schedule("d", { source: "WORKER", declaredHash: "h2", description: "v2" })], at(4))).toEqual(["d"]);
    expect(await store.getSchedule("d")).toMatchObject({ description: "v2", source: "WORKER", declaredHash: "h2", pausedAt: at(2) });
  });

  it("lists due schedules soonest first, and fires each fire time once however many fires race", async () => {
    const store = await freshStore();
    await store.createSchedule(schedule("late", { nextFireAt: at(30_000) }), at(0));
    await store.createSchedule(schedule("soon", { nextFireAt: at(10_000) }), at(0));
    await store.createSchedule(schedule("later", { nextFireAt: at(90_000) }), at(0));
    expect((await store.dueSchedules(at(60_000), 10)).map((s) => s.id)).toEqual(["soon", "late"]);

    const [due] = await store.dueSchedules(at(60_000), 1);
    if (!due) throw new Error("nothing due");
    // Five fires planned from the same read: one commits, the others find the revision moved.
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        store.fireSchedule({ id: "soon", revision: due.revision, tasks: [fireTask("soon", 10_000)], nextFireAt: at(70_000), lastFireAt: at(10_000), lastError: null, now: at(10_500) }),
      ),
    );
    const committed = outcomes.filter((o) => o !== undefined);
    expect(committed).toHaveLength(1);
    expect(committed[0]?.[0]?.existing).toBe(false);
    const fired = committed[0]?.[0]?.task;
    expect(fired?.labels).toEqual({ schedule: "soon" });
    expect(await store.getSchedule("soon")).toMatchObject({ nextFireAt: at(70_000), lastFireAt: at(10_000), lastTaskId: fired?.id, lastTaskState: "QUEUED", revision: due.revision + 1 });

    // A fire planned again from a fresh read, with the same fire time: the key holds, one task.
    const again = await store.getSchedule("soon");
    const repeat = await store.fireSchedule({ id: "soon", revision: again?.revision ?? 0, tasks: [fireTask("soon", 10_000)], nextFireAt: at(70_000), lastFireAt: at(10_000), now: at(11_000) });
    expect(repeat?.[0]).toMatchObject({ existing: true, task: { id: fired?.id } });
    expect((await store.listTasks({ limit: 10, labels: { schedule: "soon" } })).total).toBe(1);

    // A skipped fire advances the schedule and records why.
    const current = await store.getSchedule("soon");
    expect(await store.fireSchedule({ id: "soon", revision: current?.revision ?? 0, tasks: [], nextFireAt: null, lastError: "gone", now: at(12_000) })).toEqual([]);
    expect(await store.getSchedule("soon")).toMatchObject({ nextFireAt: null, lastError: "gone", lastTaskId: fired?.id });
    expect(await store.fireSchedule({ id: "missing", revision: 1, tasks: [], nextFireAt: null, now: at(12_000) })).toBeUndefined();
  });

  it("stores labels and lists tasks carrying all of the labels asked for", async () => {
    const store = await freshStore();
    const a = await insertOne(store, { labels: { tenant: "acme", schedule: "nightly" } });
    const b = await insertOne(store, { labels: { tenant: "acme" } });
    await insertOne(store, { labels: { tenant: "globex", schedule: "nightly" } });
    await insertOne(store);
    expect(a.labels).toEqual({ tenant: "acme", schedule: "nightly" });
    expect((await store.getTask(b.id))?.labels).toEqual({ tenant: "acme" });
    const acme = await store.listTasks({ limit: 10, labels: { tenant: "acme" } });
    expect(acme.tasks.map((t) => t.id)).toEqual([b.id, a.id]);
    expect(acme.total).toBe(2);
    const both = await store.listTasks({ limit: 10, labels: { tenant: "acme", schedule: "nightly" } });
    expect(both.tasks.map((t) => t.id)).toEqual([a.id]);
    expect((await store.listTasks({ limit: 10, labels: { tenant: "nobody" } })).total).toBe(0);
    expect((await store.listTasks({ limit: 10, labels: {} })).total).toBe(4);
    // Values with quotes and the like stay plain strings.
    const odd = await insertOne(store, { id: uuidv7(), labels: { "k/x:y": `quote " and \\` } });
    expect((await store.listTasks({ limit: 10, labels: { "k/x:y": `quote " and \\` } })).tasks.map((t) => t.id)).toEqual([odd.id]);
  });
}
