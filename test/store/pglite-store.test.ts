/**
 * The embedded store: PGlite through the same `DrizzleTaskStore`, schema and migrations as
 * PostgreSQL. The store contract (`./store-contract.ts`) first, each test on a new database of
 * its own (`test/support/database.ts`); then what only the embedded store has: its data
 * directory (persistence, the lock), a new database made from nothing, and an orderly close.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { uuidv7 } from "uuidv7";
import { describe, expect, it } from "vitest";
import { UnavailableError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { acquireDataDirLock, DATA_DIR_LOCK_FILE, DataDirLockedError } from "../../src/store/data-dir-lock.js";
import { migrate, MIGRATIONS_FOLDER } from "../../src/store/migrate.js";
import { createPgliteStore, PGLITE_DATA_SUBDIR, PGLITE_IN_MEMORY } from "../../src/store/pglite-store.js";
import { insertTasks } from "../../src/store/queries/insert-tasks.js";
import type { TaskStore } from "../../src/store/store.js";
import { createTestPgliteStore } from "../support/database.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { at, describeStoreContract, insertOne, mustGet, newTask, runningTask } from "./store-contract.js";

describeStoreContract("PGlite", () => createTestPgliteStore());

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const cleanups = cleanupsAfterEach();

/** An empty temporary directory, deleted after the test. */
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "taskwire-pglite-test-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A script for a child process that opens the store on the data directory given as its first
 * argument, inserts a task with the id given second, says "inserted" and waits to be killed.
 */
async function writeOwnerScript(): Promise<string> {
  const module = (path: string) => JSON.stringify(join(REPO_ROOT, path));
  const script = join(await tempDir(), "owner.mts");
  await writeFile(
    script,
    `import { createPgliteStore } from ${module("src/store/pglite-store.ts")};
import { silentLogger } from ${module("src/core/logger.ts")};
const [dataDir = "", id = ""] = process.argv.slice(2);
const store = await createPgliteStore({ dataDir, logger: silentLogger() });
const now = new Date();
const backoff = { initialMs: 1000, maxMs: 1000, multiplier: 1, jitter: 0 };
await store.insertTasks([{ id, type: "demo.echo", queue: "default", priority: 0, state: "QUEUED", inputTypeUrl: "t",
  input: new Uint8Array([1]), maxAttempts: 1, timeoutMs: 1000, backoff, idempotencyKey: null, createdAt: now, scheduledAt: now }]);
process.stdout.write("inserted\\n");
setInterval(() => undefined, 60_000);
`,
  );
  return script;
}

/** A pid that ran and exited (reaped before `spawnSync` returns). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  if (child.pid === undefined) throw new Error("could not start a child process");
  return child.pid;
}

/** Opens the embedded store on `dataDir`, closed after the test. */
async function openStore(dataDir: string): Promise<TaskStore> {
  const store = await createPgliteStore({ dataDir, logger: silentLogger() });
  cleanups.push(() => store.close());
  return store;
}

describe("PGlite store", () => {
  it("creates a database in a new directory, and keeps tasks across a close and a reopen", async () => {
    const dataDir = join(await tempDir(), "data");
    const store = await createPgliteStore({ dataDir, logger: silentLogger() });
    cleanups.push(() => store.close());
    await store.migrate();
    const queued = await insertOne(store, { priority: 4 });
    const scheduled = await insertOne(store, { state: "SCHEDULED", scheduledAt: at(60_000) });
    const running = await runningTask(store);
    const [done] = await store.finishAttempts(
      [{ kind: "succeeded", id: running.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([5]) }],
      at(2),
    );
    await store.close();

    const reopened = await openStore(dataDir);
    await reopened.migrate();
    const indexable = (task: typeof queued) => ({
      id: task.id,
      type: task.type,
      queue: task.queue,
      priority: task.priority,
      state: task.state,
      scheduledAt: task.scheduledAt,
      attempt: task.attempt,
      workerId: task.workerId,
      concurrencyKey: task.concurrencyKey,
    });
    expect(await reopened.listIndexable(undefined, 100)).toEqual([indexable(queued), indexable(scheduled)]);
    expect(await mustGet(reopened, running.id)).toEqual(done);
  });

  it("puts the tables and the journal in the configured schema only", async () => {
    const test = await createTestPgliteStore({ schema: "taskwire_embedded", inDirectory: true });
    cleanups.push(test.cleanup);
    await insertOne(test.store);
    await test.store.close();

    const raw = new PGlite(join(test.dataDir, PGLITE_DATA_SUBDIR));
    try {
      const tables = await raw.query<{ schema: string; name: string }>(
        `select table_schema as schema, table_name as name from information_schema.tables
          where table_schema not in ('pg_catalog', 'information_schema') order by 1, 2`,
      );
      expect(tables.rows).toEqual(
        ["__drizzle_migrations", "descriptor_sets", "dispatch_limits", "queue_settings", "schedules", "servers", "task_logs", "task_minute_stats", "task_type_owners", "task_types", "tasks", "workers"].map((name) => ({ schema: "taskwire_embedded", name })),
      );
    } finally {
      await raw.close();
    }
  });

  it("creates a database in memory", async () => {
    const store = await openStore(PGLITE_IN_MEMORY);
    await store.migrate();
    const task = await insertOne(store);
    expect(await store.getTask(task.id)).toEqual(task);
    await store.close();
    await expect(store.getTask(task.id)).rejects.toBeInstanceOf(UnavailableError);
  });

  it("seeds only a new database with initialData, and gives the directory back when it refuses", async () => {
    const test = await createTestPgliteStore({ inDirectory: true });
    cleanups.push(test.cleanup);
    const task = await insertOne(test.store);
    await test.store.close();

    const seed = new Blob([new Uint8Array(16)]);
    const error: unknown = await createPgliteStore({ dataDir: test.dataDir, logger: silentLogger(), initialData: seed }).catch(
      (caught: unknown) => caught,
    );
    expect((error as Error).message).toMatch(/holds a database already/);
    const reopened = await openStore(test.dataDir);
    expect(await reopened.getTask(task.id)).toEqual(task);
  });

  it("runs a transaction alone: parallel writes survive a migration that fails and rolls back", async () => {
    // The migrations, plus one whose many statements end in an error.
    const folder = join(await tempDir(), "drizzle");
    await cp(MIGRATIONS_FOLDER, folder, { recursive: true });
    const journalFile = join(folder, "meta", "_journal.json");
    const journal = JSON.parse(await readFile(journalFile, "utf8")) as { entries: { idx: number; when: number }[] };
    const last = journal.entries.at(-1);
    if (last === undefined) throw new Error("no migrations");
    journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1, tag: "9999_broken" } as (typeof journal.entries)[number]);
    await writeFile(journalFile, JSON.stringify(journal));
    const statements = [...Array.from({ length: 30 }, () => "select 1;"), "select 1 / 0;"];
    await writeFile(join(folder, "9999_broken.sql"), statements.join("\n--> statement-breakpoint\n"));

    const pglite = await PGlite.create();
    cleanups.push(() => pglite.close());
    const db = drizzle({ client: pglite });
    await migrate(db, { schema: "public", logger: silentLogger() });
    const batches = Array.from({ length: 30 }, () => [newTask()]);
    const [failed, ...inserted] = await Promise.allSettled([
      migrate(db, { schema: "public", logger: silentLogger(), migrationsFolder: folder }),
      ...batches.map((batch) => insertTasks(db, batch)),
    ]);
    expect(failed).toMatchObject({ status: "rejected", reason: { cause: { code: "22012" } } }); // division_by_zero
    expect(inserted.every((outcome) => outcome.status === "fulfilled")).toBe(true);
    // Had an insert run between the migration's BEGIN and ROLLBACK, it would be gone.
    const rows = await pglite.query<{ n: number }>("select count(*)::int as n from tasks");
    expect(rows.rows[0]?.n).toBe(30);
  });

  it("refuses a second store on its directory, and lets one in once closed", async () => {
    const test = await createTestPgliteStore({ inDirectory: true });
    cleanups.push(test.cleanup);
    const error: unknown = await createPgliteStore({ dataDir: test.dataDir, logger: silentLogger() }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect(error).toMatchObject({ ownerPid: process.pid });
    expect((error as Error).message).toContain(test.dataDir);
    expect((error as Error).message).toContain(String(process.pid));
    await test.store.ping(); // the refused store did not disturb the first

    await test.store.close();
    const next = await openStore(test.dataDir);
    await next.ping();
  });

  it("takes over the directory of a process killed while it owned it, with what it committed", async () => {
    const test = await createTestPgliteStore({ inDirectory: true });
    cleanups.push(test.cleanup);
    await test.store.close();
    const id = uuidv7();
    const child = spawn(process.execPath, ["--import", "tsx", await writeOwnerScript(), test.dataDir, id], {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await exited;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("inserted")) resolve();
      });
      void exited.then(() => reject(new Error("the owner process exited early")));
    });
    const lockFile = join(test.dataDir, DATA_DIR_LOCK_FILE);
    expect(await readFile(lockFile, "utf8")).toBe(`${child.pid}\n`);
    await expect(createPgliteStore({ dataDir: test.dataDir, logger: silentLogger() })).rejects.toBeInstanceOf(DataDirLockedError);

    child.kill("SIGKILL"); // no close, no clean-up: the lock and PostgreSQL's files stay as they were
    await exited;
    const next = await openStore(test.dataDir);
    expect(await readFile(lockFile, "utf8")).toBe(`${process.pid}\n`);
    expect((await next.getTask(id))?.state).toBe("QUEUED");
    await next.close();
    expect(existsSync(lockFile)).toBe(false);
  });

  it("finishes the calls made before close, and refuses those made after", async () => {
    const test = await createTestPgliteStore({ inDirectory: true });
    cleanups.push(test.cleanup);
    const batches = Array.from({ length: 20 }, () => [newTask(), newTask()]);
    const inserts = batches.map((batch) => test.store.insertTasks(batch));
    const read = test.store.listTasks({ limit: 1 });
    const closed = test.store.close();
    expect((await Promise.all(inserts)).flat()).toHaveLength(40);
    await read;
    await closed;
    await expect(test.store.getTask(uuidv7())).rejects.toMatchObject({ name: "UnavailableError", reason: "STORE_UNAVAILABLE" });

    const reopened = await openStore(test.dataDir);
    expect((await reopened.listTasks({ limit: 1 })).total).toBe(40);
  });
});

describe("data directory lock", () => {
  it("creates the directory, and refuses a second owner naming the directory and the pid", async () => {
    const dataDir = join(await tempDir(), "nested", "data");
    const lock = await acquireDataDirLock(dataDir);
    expect(await readFile(join(dataDir, DATA_DIR_LOCK_FILE), "utf8")).toBe(`${process.pid}\n`);

    const error: unknown = await acquireDataDirLock(dataDir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DataDirLockedError);
    expect(error).toMatchObject({ dataDir, ownerPid: process.pid, lockFile: join(dataDir, DATA_DIR_LOCK_FILE) });
    expect((error as Error).message).toMatch(new RegExp(`${dataDir}.*pid ${process.pid}`));

    await lock.release();
    await lock.release();
    expect(existsSync(join(dataDir, DATA_DIR_LOCK_FILE))).toBe(false);
    await (await acquireDataDirLock(dataDir)).release();
  });

  it("refuses a lock held by another live process", async () => {
    const dataDir = await tempDir();
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), "1\n"); // init: always running
    await expect(acquireDataDirLock(dataDir)).rejects.toMatchObject({ name: "DataDirLockedError", ownerPid: 1 });
  });

  it("takes over a lock whose pid is dead, or that was never written and is old", async () => {
    const dataDir = await tempDir();
    const lockFile = join(dataDir, DATA_DIR_LOCK_FILE);
    await writeFile(lockFile, `${deadPid()}\n`);
    const first = await acquireDataDirLock(dataDir);
    expect(await readFile(lockFile, "utf8")).toBe(`${process.pid}\n`);
    await first.release();

    await writeFile(lockFile, "");
    const longAgo = new Date(Date.now() - 60_000);
    await utimes(lockFile, longAgo, longAgo);
    const second = await acquireDataDirLock(dataDir);
    expect(await readFile(lockFile, "utf8")).toBe(`${process.pid}\n`);
    await second.release();
  });

  it("gives the directory to exactly one of many racing acquirers, stale lock or not", async () => {
    const dataDir = await tempDir();
    for (const stale of [false, true]) {
      if (stale) await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), `${deadPid()}\n`);
      const attempts = await Promise.allSettled(Array.from({ length: 8 }, () => acquireDataDirLock(dataDir)));
      const won = attempts.filter((attempt) => attempt.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const attempt of attempts) {
        if (attempt.status === "rejected") expect(attempt.reason).toBeInstanceOf(DataDirLockedError);
      }
      await won[0]?.value.release();
      expect(existsSync(`${join(dataDir, DATA_DIR_LOCK_FILE)}.takeover`)).toBe(false);
    }
  });

  it("leaves a lock alone on release when it is no longer its own", async () => {
    const dataDir = await tempDir();
    const lock = await acquireDataDirLock(dataDir);
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), "1\n");
    await lock.release();
    expect(await readFile(join(dataDir, DATA_DIR_LOCK_FILE), "utf8")).toBe("1\n");
  });
});
