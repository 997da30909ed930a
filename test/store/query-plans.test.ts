/**
 * The plans PostgreSQL keeps for the statements on every task's path. The store prepares them
 * once per connection, and after a few runs PostgreSQL reuses one generic plan, costed with the
 * statistics of that moment. Those statistics typically say "hardly any task RUNNING" (taken
 * while nothing ran), so a statement that could reach its rows through `tasks_state_id_idx`
 * did: each one-task finish then read every RUNNING entry of that index, dead ones too, and
 * cost milliseconds after a few thousand tasks. Each statement here must reach its rows through
 * an index on the id, from the ids it was given, whatever the statistics say.
 *
 * The statements are taken off the wire (postgres.js `debug`) as the store sends them, then
 * prepared and explained with `plan_cache_mode = force_generic_plan` on another connection.
 *
 * The operator views and bulk actions are explained the same way (with the plans PostgreSQL
 * picks for their parameters): the figures of the last hour and retention must read the
 * finished tasks through `tasks_finished_at_idx`, never the whole table, and each bulk batch
 * must be locked once and changed through the primary key.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { DrizzleTaskStore } from "../../src/store/drizzle-task-store.js";
import { createTestStore } from "../support/database.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { at, attemptError, newTask, startOnly } from "./store-contract.js";

const cleanups = cleanupsAfterEach();

/** Tasks in the table: enough that a scan of the table costs more than a few index probes. */
const TASKS = 5_000;

interface SentStatement {
  query: string;
  parameters: unknown[];
}

/** A literal PostgreSQL reads back as the parameter postgres.js sent. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "null";
  const text = value instanceof Date ? value.toISOString() : String(value);
  return `'${text.replaceAll("'", "''")}'`;
}

describe("generic plans of the per-task statements", () => {
  it("reach the tasks through their ids even when the statistics say no task is running", async () => {
    const test = await createTestStore();
    cleanups.push(test.cleanup);
    const sent: SentStatement[] = [];
    const client = postgres(test.url, {
      max: 1,
      connection: { search_path: test.schema },
      debug: (_connection, query, parameters) => sent.push({ query, parameters: [...(parameters as unknown[])] }),
    });
    const store = new DrizzleTaskStore(drizzle({ client }), { schema: test.schema, logger: silentLogger(), close: () => client.end() });
    cleanups.push(() => store.close());
    const admin = postgres(test.url, { max: 1, connection: { search_path: test.schema }, onnotice: () => {} });
    cleanups.push(() => admin.end());

    const tasks = Array.from({ length: TASKS }, () => newTask());
    for (let i = 0; i < TASKS; i += 1000) await store.insertTasks(tasks.slice(i, i + 1000));
    // Statistics of a queue where nothing runs yet.
    await admin.unsafe("analyze tasks");
    const running = tasks.slice(0, 100).map((task) => task.id);
    await startOnly(store, running.slice(0, 99), "worker-1", at(1));

    /** Runs `body` and returns the statement it sent that matches `pattern`. */
    const capture = async (pattern: RegExp, body: () => Promise<unknown>): Promise<SentStatement> => {
      sent.length = 0;
      await body();
      const statement = sent.find((s) => pattern.test(s.query));
      if (!statement) throw new Error(`no statement matching ${pattern} among ${sent.length}`);
      return statement;
    };
    const [last] = running.slice(99);
    const statements = {
      start: await capture(/^update "tasks" set "state"/, () => startOnly(store, [last!], "worker-1", at(2))),
      progress: await capture(/^update "tasks" set "progress"/, () =>
        store.saveProgress([{ id: last!, attempt: 1, progress: { percent: 5, message: "", updateTime: at(3).toISOString() } }]),
      ),
      finish: await capture(/^update "tasks" set "state"/, () =>
        store.finishAttempts([{ kind: "failed", id: last!, attempt: 1, error: attemptError(1) }], at(4)),
      ),
      promote: await capture(/^update "tasks" set "state"/, () => store.markQueued([last!], at(1_000_000))),
    };

    await admin.unsafe("set plan_cache_mode = force_generic_plan");
    for (const [name, statement] of Object.entries(statements)) {
      await admin.unsafe(`prepare ${name} as ${statement.query}`);
      const rows = await admin.unsafe<{ "QUERY PLAN": string }[]>(
        `explain execute ${name}(${statement.parameters.map(literal).join(", ")})`,
      );
      const plan = rows.map((row) => row["QUERY PLAN"]).join("\n");
      expect.soft(plan, `${name}:\n${plan}`).toMatch(/Index Cond: \(id = ANY/);
      expect.soft(plan, `${name}:\n${plan}`).not.toMatch(/Seq Scan on tasks|tasks_state_id_idx/);
    }
  });
});

describe("plans of the operator views and bulk actions", () => {
  it("read recent finishes through tasks_finished_at_idx, and change each batch through the primary key", async () => {
    const test = await createTestStore();
    cleanups.push(test.cleanup);
    const sent: SentStatement[] = [];
    const client = postgres(test.url, {
      max: 1,
      connection: { search_path: test.schema },
      debug: (_connection, query, parameters) => sent.push({ query, parameters: [...(parameters as unknown[])] }),
    });
    const store = new DrizzleTaskStore(drizzle({ client }), { schema: test.schema, logger: silentLogger(), close: () => client.end() });
    cleanups.push(() => store.close());
    const admin = postgres(test.url, { max: 1, connection: { search_path: test.schema }, onnotice: () => {} });
    cleanups.push(() => admin.end());

    // A day of finished tasks, the last thousand of them in the last hour, and a short backlog.
    const hour = 3_600_000;
    const now = at(24 * hour);
    const tasks = Array.from({ length: TASKS }, (_, i) => newTask({ queue: `queue-${i % 5}` }));
    for (let i = 0; i < TASKS; i += 1000) await store.insertTasks(tasks.slice(i, i + 1000));
    const finishing = tasks.slice(0, TASKS - 100);
    await startOnly(store, finishing.map((task) => task.id), "worker-1", at(1));
    for (let i = 0; i < finishing.length; i += 1000) {
      const slice = finishing.slice(i, i + 1000);
      const recent = i + 1000 >= finishing.length;
      await store.finishAttempts(
        slice.map((task) => ({ kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([1]) }) as const),
        recent ? new Date(now.getTime() - 10 * 60_000) : at(hour + i * 1000),
      );
    }
    const backlog = tasks.slice(TASKS - 100);
    await startOnly(store, backlog.slice(0, 10).map((task) => task.id), "worker-1", at(2));
    await admin.unsafe("analyze tasks");

    /** Runs `body` and returns the plan of the statement it sent that matches `pattern`. */
    let statements = 0;
    const planOf = async (pattern: RegExp, body: () => Promise<unknown>): Promise<string> => {
      sent.length = 0;
      await body();
      const statement = sent.find((s) => pattern.test(s.query));
      if (!statement) throw new Error(`no statement matching ${pattern} among ${sent.length}`);
      const name = `statement_${statements++}`;
      await admin.unsafe(`prepare ${name} as ${statement.query}`);
      const rows = await admin.unsafe<{ "QUERY PLAN": string }[]>(
        `explain execute ${name}(${statement.parameters.map(literal).join(", ")})`,
      );
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    };

    const lastHour = {
      all: await planOf(/union all/, () => store.queueStats(now)),
      some: await planOf(/union all/, () => store.queueStats(now, ["queue-1", "queue-9"])),
      retention: await planOf(/^delete from "tasks"/, () => store.deleteFinished({ finishedBefore: at(hour + 2_000_000) }, 1000)),
    };
    for (const [name, plan] of Object.entries(lastHour)) {
      expect.soft(plan, `${name}:\n${plan}`).toMatch(/Index Scan using tasks_finished_at_idx/);
      expect.soft(plan, `${name}:\n${plan}`).not.toMatch(/Seq Scan on tasks/);
    }

    const bulk = {
      markCancelling: await planOf(/^update "tasks"/, () => store.markCancelling({ states: ["RUNNING"] }, 1000, now)),
      cancelWaiting: await planOf(/^update "tasks"/, () => store.cancelWaiting({ queue: "queue-1" }, 1000, now)),
      retry: await planOf(/^update "tasks"/, () => store.retryTasks({ states: ["CANCELLED"] }, 1000, now)),
      delete: await planOf(/^delete from "tasks"/, () => store.deleteFinished({ type: "demo.echo" }, 1000)),
    };
    for (const [name, plan] of Object.entries(bulk)) {
      expect.soft(plan, `${name}:\n${plan}`).toMatch(/Index Scan using tasks_pkey on tasks\s+\(.*\n\s+Index Cond: \(id = ANY \(\$\d+\)\)/);
      expect.soft(plan, `${name}:\n${plan}`).toMatch(/LockRows/);
    }
  });

  it("filter by labels through tasks_labels_idx, and read a task's log lines through task_logs_task_id_id_idx", async () => {
    const test = await createTestStore();
    cleanups.push(test.cleanup);
    const sent: SentStatement[] = [];
    const client = postgres(test.url, {
      max: 1,
      connection: { search_path: test.schema },
      debug: (_connection, query, parameters) => sent.push({ query, parameters: [...(parameters as unknown[])] }),
    });
    const store = new DrizzleTaskStore(drizzle({ client }), { schema: test.schema, logger: silentLogger(), close: () => client.end() });
    cleanups.push(() => store.close());
    const admin = postgres(test.url, { max: 1, connection: { search_path: test.schema }, onnotice: () => {} });
    cleanups.push(() => admin.end());

    // Many tenants, a few tasks each, every task with a log of a few lines.
    const tasks = Array.from({ length: TASKS }, (_, i) => newTask({ labels: { tenant: `tenant-${i % 500}`, workspace: `w-${i % 7}` } }));
    for (let i = 0; i < TASKS; i += 1000) await store.insertTasks(tasks.slice(i, i + 1000));
    const lines = tasks.flatMap((task) => [1, 2, 3].map((n) => ({ taskId: task.id, attempt: 1, level: "info" as const, message: `line ${n}`, time: at(n) })));
    for (let i = 0; i < lines.length; i += 1000) await store.appendLogs(lines.slice(i, i + 1000), { maxLines: 100, maxBytes: 100_000 });
    await admin.unsafe("analyze tasks");
    await admin.unsafe("analyze task_logs");

    let statements = 0;
    const planOf = async (pattern: RegExp, body: () => Promise<unknown>): Promise<string> => {
      sent.length = 0;
      await body();
      const statement = sent.find((s) => pattern.test(s.query));
      if (!statement) throw new Error(`no statement matching ${pattern} among ${sent.length}`);
      const name = `labels_${statements++}`;
      await admin.unsafe(`prepare ${name} as ${statement.query}`);
      const rows = await admin.unsafe<{ "QUERY PLAN": string }[]>(`explain execute ${name}(${statement.parameters.map(literal).join(", ")})`);
      return rows.map((row) => row["QUERY PLAN"]).join("\n");
    };

    const byLabels = {
      list: await planOf(/^select .* from "tasks" .*@>.* limit/s, () => store.listTasks({ labels: { tenant: "tenant-7" }, limit: 50 })),
      listTwo: await planOf(/^select .* from "tasks" .*@>.* limit/s, () => store.listTasks({ labels: { tenant: "tenant-7", workspace: "w-0" }, limit: 50 })),
      count: await planOf(/group by/, () => store.countTasks({ labels: { tenant: "tenant-7" } }, { type: false, queue: false })),
    };
    for (const [name, plan] of Object.entries(byLabels)) {
      expect.soft(plan, `${name}:\n${plan}`).toMatch(/Bitmap Index Scan on tasks_labels_idx/);
      expect.soft(plan, `${name}:\n${plan}`).not.toMatch(/Seq Scan on tasks/);
    }
    const listed = await store.listTasks({ labels: { tenant: "tenant-7" }, limit: 50 });
    expect(listed.tasks).toHaveLength(TASKS / 500);
    expect(listed.tasks.every((task) => task.labels["tenant"] === "tenant-7")).toBe(true);

    const task = tasks[1234]!;
    const logs = await planOf(/from "task_logs"/, () => store.readLogs({ taskId: task.id, afterSequence: 0n, limit: 100, levels: ["warn", "error"] }));
    expect(logs, logs).toMatch(/Index Scan using task_logs_task_id_id_idx on task_logs/);
    expect(logs, logs).not.toMatch(/Seq Scan/);
  });
});
