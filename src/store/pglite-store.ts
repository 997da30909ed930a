/**
 * The embedded store: PGlite (PostgreSQL compiled to WebAssembly, in this process) through
 * Drizzle's PGlite driver, with the same {@link DrizzleTaskStore}, schema and migrations as
 * PostgreSQL. The only file that knows the driver.
 *
 * Layout of a data directory: `<dataDir>/pgdata/` holds PostgreSQL's files and
 * `<dataDir>/taskwire.lock` says which process owns them (see `data-dir-lock.ts`).
 *
 * Concurrency: PGlite is one PostgreSQL backend, so it runs one statement at a time. It queues
 * calls itself, and a transaction holds that queue from BEGIN to COMMIT, so the server's many
 * parallel calls never interleave with a transaction (migrate). The one thing never to do is to
 * call the database (rather than the transaction) from inside a transaction: it would wait for
 * itself. The queries of `queries/` do not.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { QueryOptions, Results, Transaction } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import type { Logger } from "../core/logger.js";
import { acquireDataDirLock } from "./data-dir-lock.js";
import type { DataDirLock } from "./data-dir-lock.js";
import { DrizzleTaskStore } from "./drizzle-task-store.js";
import { quoteIdentifier } from "./sql-helpers.js";
import type { TaskStore } from "./store.js";

/** The `dataDir` that keeps the database in memory only: nothing survives `close()`. */
export const PGLITE_IN_MEMORY = "memory://";

/** Folder of a data directory that holds PostgreSQL's files. */
export const PGLITE_DATA_SUBDIR = "pgdata";

/** Options of {@link createPgliteStore}. */
export interface PgliteStoreOptions {
  /**
   * Where the database lives: a directory (created when missing, and owned by this process until
   * `close()`), or {@link PGLITE_IN_MEMORY} for a database that lasts as long as the store.
   */
  dataDir: string;
  logger: Logger;
  /**
   * The schema holding Taskwire's tables (and its migrations journal), as with PostgreSQL.
   * @default "public"
   */
  schema?: string;
  /**
   * A database to start from instead of an empty one, as written by PGlite's `dumpDataDir()`:
   * only for a database that does not exist yet (memory, or a directory without `pgdata/`).
   * Creating a database (initdb) takes seconds, loading a dump a fraction of one, so tests open
   * their many throwaway stores from the dump of one new database.
   * @default none: a new database is created
   */
  initialData?: Blob;
}

/**
 * What `store-errors.ts` reads as "the database cannot be reached": the code postgres.js gives
 * calls on a pool that was ended, which is what a closed PGlite is.
 */
const CLOSED_CODE = "CONNECTION_ENDED";

/** A call on a PGlite store after `close()` began; the store turns it into `UnavailableError`. */
class PgliteClosedError extends Error {
  override readonly name = "PgliteClosedError";
  readonly code = CLOSED_CODE;

  constructor() {
    super("the embedded database (PGlite) is closed");
  }
}

/**
 * PGlite with an orderly close, as postgres.js's `end()`: the calls made before `close()` run to
 * their end, then PGlite closes, and calls made after fail at once with {@link PgliteClosedError}
 * (PGlite's own "PGlite is closed" carries no code). `close()` is safe to call twice, where
 * PGlite's own throws.
 */
class ClosablePglite extends PGlite {
  readonly #inFlight = new Set<Promise<unknown>>();
  #refusing = false;
  #closing: Promise<void> | undefined;

  override query<T>(query: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.#admit(() => super.query<T>(query, params, options));
  }

  override exec(query: string, options?: QueryOptions): Promise<Results[]> {
    return this.#admit(() => super.exec(query, options));
  }

  override transaction<T>(callback: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.#admit(() => super.transaction(callback));
  }

  override close(): Promise<void> {
    this.#closing ??= (async () => {
      // A store call made just before close() reaches `query` some microtasks later (Drizzle
      // awaits on the way): one turn of the event loop lets it in before the door shuts.
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.#refusing = true;
      await Promise.allSettled([...this.#inFlight]);
      await super.close();
    })();
    return this.#closing;
  }

  #admit<T>(call: () => Promise<T>): Promise<T> {
    if (this.#refusing) return Promise.reject(new PgliteClosedError());
    const running = call();
    this.#inFlight.add(running);
    const settle = (): void => {
      this.#inFlight.delete(running);
    };
    running.then(settle, settle);
    return running;
  }
}

/**
 * Opens (creating when new) the embedded database and returns its store. With a directory, the
 * directory's lock is taken first and `close()` releases it. Call `migrate()` next, as with
 * PostgreSQL.
 * @throws DataDirLockedError when another live process (or another store of this one) owns the directory.
 */
export async function createPgliteStore(options: PgliteStoreOptions): Promise<TaskStore> {
  const schema = options.schema ?? "public";
  const inMemory = options.dataDir.startsWith(PGLITE_IN_MEMORY);
  const logger = options.logger.child({ component: "store", driver: "pglite" });
  const lock: DataDirLock | undefined = inMemory ? undefined : await acquireDataDirLock(options.dataDir);
  const location = lock === undefined ? options.dataDir : join(lock.dataDir, PGLITE_DATA_SUBDIR);

  let client: ClosablePglite | undefined;
  try {
    const exists = lock !== undefined && (await holdsDatabase(location));
    if (options.initialData !== undefined && exists) {
      throw new Error("it holds a database already, and initialData only seeds a new one");
    }
    // A new directory gets a new database (initdb): seconds of silence a newcomer should be told about.
    const creating = lock !== undefined && !exists && options.initialData === undefined;
    if (creating) logger.info({ dataDir: lock.dataDir }, "creating the embedded database (first start in this data directory: this takes a few seconds)");
    const started = performance.now();
    client = new ClosablePglite(location, { loadDataDir: options.initialData });
    await client.waitReady;
    // One session for the life of the store: its search_path stays set, as a postgres.js connection's does.
    await client.exec(`set search_path to ${quoteIdentifier(schema)}`);
    const ms = Math.round(performance.now() - started);
    logger.info({ dataDir: lock?.dataDir ?? location, ms }, creating ? `created the embedded database in ${ms} ms` : "embedded database opened");
  } catch (error) {
    await client?.close().catch(() => undefined);
    await lock?.release();
    throw new Error(`cannot open the embedded database in ${lock?.dataDir ?? location}: ${errorMessage(error)}`, { cause: error });
  }

  const opened = client;
  return new DrizzleTaskStore(drizzle({ client: opened }), {
    schema,
    logger,
    close: async () => {
      try {
        await opened.close();
      } finally {
        await lock?.release();
      }
    },
  });
}

/** Whether `directory` holds a PostgreSQL data directory (`PG_VERSION` is its first file). */
async function holdsDatabase(directory: string): Promise<boolean> {
  try {
    await stat(join(directory, "PG_VERSION"));
    return true;
  } catch {
    return false;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
