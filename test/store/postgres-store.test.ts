/**
 * The PostgreSQL store against the real PostgreSQL: every test on a schema of its own
 * (`test/support/database.ts`), so the files and tests run in parallel. The store contract
 * (`./store-contract.ts`, shared with PGlite) first, then what only a PostgreSQL server shows:
 * the schema option in its catalog, two connection pools racing, statements on the wire, a
 * closed port.
 */
import { createHash } from "node:crypto";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { uuidv7 } from "uuidv7";
import { afterEach, describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { DrizzleTaskStore } from "../../src/store/drizzle-task-store.js";
import { createPostgresStore } from "../../src/store/postgres-store.js";
import { createTestStore, TEST_DATABASE_URL, uniqueSchemaName, type TestStore } from "../support/database.js";
import { at, attemptError, describeStoreContract, newTask, startOnly } from "./store-contract.js";

describeStoreContract("PostgreSQL", async () => {
  const { store, cleanup } = await createTestStore();
  return { store, cleanup };
});

const tests: TestStore[] = [];

afterEach(async () => {
  for (const test of tests.splice(0)) await test.cleanup();
});


describe("migrations", () => {
  /** Rows of the migrations journal in `schema`. */
  async function journalRows(schema: string): Promise<number> {
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`select count(*)::int as n from ${sql(schema)}.__drizzle_migrations`;
      return Number(rows[0]?.n);
    } finally {
      await sql.end();
    }
  }

  it("creates the tables and the journal in the configured schema only", async () => {
    const test = await createTestStore();
    tests.push(test);
    const sql = postgres(TEST_DATABASE_URL, { max: 1 });
    try {
      const rows = await sql<{ table_name: string }[]>`
        select table_name from information_schema.tables where table_schema = ${test.schema} order by table_name`;
      expect(rows.map((row) => row.table_name)).toEqual(["__drizzle_migrations", "descriptor_sets", "dispatch_limits", "queue_settings", "schedules", "servers", "task_logs", "task_minute_stats", "task_type_owners", "task_types", "tasks", "workers"]);
    } finally {
      await sql.end();
    }
  });

  it("reads a task type of an older version (its own descriptor bytes, no set) like any other, until it is declared again", async () => {
    const test = await createTestStore();
    tests.push(test);
    const bytes = Buffer.from([10, 3, 97, 46, 112]);
    const hash = createHash("sha256").update(bytes).digest("hex");
    const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      await sql`insert into ${sql(test.schema)}.task_types (name, input_type, output_type, defaults, descriptors)
        values ('old.type', 'google.protobuf.Struct', 'google.protobuf.Struct', ${sql.json({ queue: null, priority: 0, timeoutMs: null, maxAttempts: 3, backoff: { initialMs: 1, maxMs: 2, multiplier: 2, jitter: 0 } })}, ${bytes})`;
    } finally {
      await sql.end();
    }
    const listed = await test.store.listTaskTypes();
    expect(listed).toMatchObject([{ name: "old.type", descriptorSet: hash }]);
    expect(await test.store.getTaskType("old.type")).toMatchObject({ descriptorSet: hash, descriptors: new Uint8Array(bytes) });
    expect(await test.store.getDescriptorSets([hash])).toEqual(new Map([[hash, new Uint8Array(bytes)]]));
    const { descriptors: _old, ...record } = (await test.store.getTaskType("old.type"))!;
    await test.store.upsertTaskTypes([{ ...record, descriptors: new Uint8Array([1]), descriptorSet: "a".repeat(64) }], at(5));
    expect(await test.store.getTaskType("old.type")).toMatchObject({ descriptorSet: "a".repeat(64), descriptors: new Uint8Array([1]) });
    expect(await test.store.getDescriptorSets([hash])).toEqual(new Map());
  });

  it("is a no-op the second time", async () => {
    const test = await createTestStore();
    tests.push(test);
    const before = await journalRows(test.schema);
    expect(before).toBeGreaterThan(0);
    await test.store.migrate();
    await test.store.migrate();
    expect(await journalRows(test.schema)).toBe(before);
  });

  it("lets two servers migrate a fresh schema at once", async () => {
    const test = await createTestStore({ migrate: false });
    tests.push(test);
    const other = createPostgresStore({ url: test.url, schema: test.schema, logger: silentLogger() });
    try {
      await Promise.all([test.store.migrate(), other.migrate(), test.store.migrate()]);
      const [inserted] = await other.insertTasks([newTask()]);
      expect(inserted?.existing).toBe(false);
      expect(await journalRows(test.schema)).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });
});

describe("insertTasks across servers", () => {
  it("keeps one task when two servers insert the same key at once", async () => {
    const test = await createTestStore();
    tests.push(test);
    const other = createPostgresStore({ url: test.url, schema: test.schema, logger: silentLogger() });
    try {
      for (let round = 0; round < 5; round++) {
        const key = `race-${round}`;
        const [a, b] = await Promise.all([
          test.store.insertTasks([newTask({ idempotencyKey: key })]),
          other.insertTasks([newTask({ idempotencyKey: key })]),
        ]);
        expect(a?.[0]?.task.id).toBe(b?.[0]?.task.id);
        expect([a?.[0]?.existing, b?.[0]?.existing].sort()).toEqual([false, true]);
      }
    } finally {
      await other.close();
    }
  });
});

describe("statements", () => {
  it("writes each batch in one statement", async () => {
    const test = await createTestStore();
    tests.push(test);
    const statements: string[] = [];
    const client = postgres(test.url, {
      max: 1,
      connection: { search_path: test.schema },
      debug: (_connection, query) => statements.push(query),
    });
    const store = new DrizzleTaskStore(drizzle({ client }), {
      schema: test.schema,
      logger: silentLogger(),
      close: () => client.end(),
    });
    try {
      await store.ping();
      const count = async (body: () => Promise<unknown>): Promise<number> => {
        statements.length = 0;
        await body();
        return statements.length;
      };
      const batch = Array.from({ length: 200 }, (_, index) => newTask({ idempotencyKey: `key-${index}` }));
      const ids = batch.map((task) => task.id);
      expect(await count(() => store.insertTasks(batch))).toBe(1);
      // Known keys: the insert, then one read of the existing tasks.
      expect(await count(() => store.insertTasks(batch.map((task) => ({ ...task, id: uuidv7() }))))).toBe(2);
      expect(await count(() => startOnly(store, ids, "worker-1", at(1)))).toBe(1);
      const progress = { percent: 1, message: "", updateTime: at(2).toISOString() };
      expect(await count(() => store.saveProgress(ids.map((id) => ({ id, attempt: 1, progress }))))).toBe(1);
      const failures = ids.map((id) => ({ kind: "failed", id, attempt: 1, error: attemptError(1) }) as const);
      expect(await count(() => store.finishAttempts(failures, at(3)))).toBe(1);
      expect(await count(() => store.markQueued(ids, at(1_000_000)))).toBe(1);
      expect(await count(() => store.touchWorkers(["a", "b", "c"], at(4)))).toBe(1);
    } finally {
      await store.close();
    }
  });
});

describe("availability", () => {
  it("throws UnavailableError when PostgreSQL cannot be reached", async () => {
    const store = createPostgresStore({
      url: "postgres://postgres@127.0.0.1:1/test",
      schema: uniqueSchemaName(),
      logger: silentLogger(),
    });
    try {
      for (const call of [() => store.ping(), () => store.getTask(uuidv7()), () => store.migrate()]) {
        const error: unknown = await call().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(UnavailableError);
        expect(error).toMatchObject({ reason: "STORE_UNAVAILABLE" });
        // The driver's error, not Drizzle's wrapper (whose message lists every parameter).
        expect((error as UnavailableError).cause).toMatchObject({ code: "ECONNREFUSED" });
      }
    } finally {
      await store.close();
    }
  });
});
