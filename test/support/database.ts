/**
 * A fresh PostgreSQL schema per test: test files run in parallel against one database, so each
 * test gets its own uniquely named schema in the real PostgreSQL, migrated the way a server
 * migrates at start, and dropped afterwards. The store's connections set `search_path` to that
 * schema, so the tests see only their own tables.
 *
 * The database is `postgres://postgres@127.0.0.1:5432/test`, or `TASKWIRE_TEST_DATABASE_URL`.
 *
 * The embedded store's tests get a PGlite database of their own instead, in memory or in a
 * temporary directory ({@link createTestPgliteStore}).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { silentLogger } from "../../src/core/logger.js";
import { quoteIdentifier } from "../../src/store/sql-helpers.js";
import { createPgliteStore, PGLITE_IN_MEMORY } from "../../src/store/pglite-store.js";
import { createPostgresStore } from "../../src/store/postgres-store.js";
import type { TaskStore } from "../../src/store/store.js";

/** The PostgreSQL tests run against. */
export const TEST_DATABASE_URL = process.env.TASKWIRE_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A schema name no other test uses: `taskwire_test_<16 hex digits>`. */
export function uniqueSchemaName(): string {
  return `taskwire_test_${randomBytes(8).toString("hex")}`;
}

/** A store on its own schema, and how to get rid of it. */
export interface TestStore {
  store: TaskStore;
  url: string;
  schema: string;
  /** Closes the store and drops the schema with everything in it. Safe to call twice. */
  cleanup: () => Promise<void>;
}

/** Options of {@link createTestStore}. */
export interface TestStoreOptions {
  /** Run `migrate()` before returning. @default true */
  migrate?: boolean;
  /** Pool size. @default 4 */
  maxConnections?: number;
}

/** Drops a test schema (and everything in it), on a connection of its own. */
export async function dropSchema(schema: string, url: string = TEST_DATABASE_URL): Promise<void> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop schema if exists ${quoteIdentifier(schema)} cascade`);
  } finally {
    await admin.end();
  }
}

/** Creates a store on a fresh, uniquely named schema; see the file header. */
export async function createTestStore(options: TestStoreOptions = {}): Promise<TestStore> {
  const schema = uniqueSchemaName();
  const url = TEST_DATABASE_URL;
  const store = createPostgresStore({ url, schema, logger: silentLogger(), maxConnections: options.maxConnections ?? 4 });
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      await store.close();
      await dropSchema(schema, url);
    })();
    return cleaned;
  };
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
  return { store, url, schema, cleanup };
}

/** A PGlite store of a test, and how to get rid of it. */
export interface TestPgliteStore {
  store: TaskStore;
  /** Its data directory: a temporary directory, or {@link PGLITE_IN_MEMORY}. */
  dataDir: string;
  /** Closes the store and deletes its data directory. Safe to call twice. */
  cleanup: () => Promise<void>;
}

/** Options of {@link createTestPgliteStore}. */
export interface TestPgliteStoreOptions {
  /** Run `migrate()` before returning. @default true */
  migrate?: boolean;
  /** Keep the database in a fresh temporary directory rather than in memory. @default false */
  inDirectory?: boolean;
  /** The schema of the tables. @default "public" */
  schema?: string;
}

let newDatabaseDump: Promise<Blob> | undefined;

/**
 * The dump of a new, empty (not migrated) database, made once per test process: PGlite's
 * initdb takes seconds, while loading its dump takes a fraction of one (graphile-worker's
 * template databases, for PGlite).
 */
function emptyDatabase(): Promise<Blob> {
  newDatabaseDump ??= (async () => {
    const pglite = await PGlite.create();
    try {
      return await pglite.dumpDataDir("none");
    } finally {
      await pglite.close();
    }
  })();
  return newDatabaseDump;
}

/**
 * Creates a PGlite store on a new database, in memory or in a fresh temporary directory, and
 * migrates it the way a server migrates at start.
 */
export async function createTestPgliteStore(options: TestPgliteStoreOptions = {}): Promise<TestPgliteStore> {
  const initialData = await emptyDatabase();
  const dataDir = (options.inDirectory ?? false) ? await mkdtemp(join(tmpdir(), "taskwire-pglite-test-")) : PGLITE_IN_MEMORY;
  const removeDir = () => (dataDir === PGLITE_IN_MEMORY ? Promise.resolve() : rm(dataDir, { recursive: true, force: true }));
  let store: TaskStore;
  try {
    store = await createPgliteStore({ dataDir, logger: silentLogger(), schema: options.schema, initialData });
  } catch (error) {
    await removeDir();
    throw error;
  }
  let cleaned: Promise<void> | undefined;
  const cleanup = () => {
    cleaned ??= (async () => {
      await store.close();
      await removeDir();
    })();
    return cleaned;
  };
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await cleanup();
      throw error;
    }
  }
  return { store, dataDir, cleanup };
}
