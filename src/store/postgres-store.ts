/**
 * The production store: PostgreSQL through postgres.js. The only file that knows the driver;
 * it builds a Drizzle database and hands it to the driver-neutral {@link DrizzleTaskStore}.
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Logger } from "../core/logger.js";
import { DrizzleTaskStore } from "./drizzle-task-store.js";
import { quoteIdentifier } from "./sql-helpers.js";
import type { TaskStore } from "./store.js";

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** A PostgreSQL connection URL (`postgres://user:password@host:5432/database`). */
  url: string;
  /**
   * The schema holding Taskwire's tables (and its migrations journal). Every connection sets
   * `search_path` to it, so several Taskwire instances (or tests) can share one database.
   * @default "public"
   */
  schema?: string;
  logger: Logger;
  /** Size of the connection pool. @default 10 */
  maxConnections?: number;
  /**
   * How long to wait for a connection before the operation fails with `UnavailableError`.
   * @default 10_000 (ms)
   */
  connectTimeoutMs?: number;
  /**
   * How long one operation may wait for PostgreSQL before it fails with `UnavailableError`, and
   * each connection's `statement_timeout` (migrations lift it). A PostgreSQL that hangs (stopped,
   * overloaded, a network that drops packets) answers nothing, so the wait is bounded here, not by
   * the server. `ServerConfig.databaseTimeoutMs`. @default 10_000 (ms)
   */
  operationTimeoutMs?: number;
}

/** Time `close()` gives running queries before the connections are dropped, in seconds. */
const CLOSE_TIMEOUT_S = 5;

/**
 * Delay before a pool connection tries again after failing to connect, in seconds: 50 ms
 * doubling to at most 1 s, with jitter. postgres.js's default grows to 20 s over a few failed
 * tries, so a short PostgreSQL outage would hold queries (a worker's results among them) for
 * up to 20 s after PostgreSQL came back; this one resumes within a second.
 */
function reconnectDelaySeconds(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1);
}

/**
 * `client` with every query that has parameters sent as a prepared statement, cached per
 * connection. Drizzle asks postgres.js for unnamed statements unless a query is built with
 * `.prepare()`, and postgres.js then spends a round trip describing each one before it binds:
 * two round trips per query instead of one. Taskwire's queries have fixed texts (a batch travels
 * as one array or JSON parameter), so the cache stays small.
 */
function preparingStatements(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "unsafe") return Reflect.get(target, property, receiver) as unknown;
      return (query: string, parameters?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
        target.unsafe(query, parameters, { ...options, prepare: parameters !== undefined && parameters.length > 0 });
    },
  });
}

/**
 * Creates the PostgreSQL store. Connections are opened lazily, on the first query; call
 * `migrate()` (or `ping()`) first to fail fast at start-up. `close()` ends the pool.
 */
export function createPostgresStore(options: PostgresStoreOptions): TaskStore {
  const schema = options.schema ?? "public";
  const logger = options.logger.child({ component: "store" });
  const operationTimeoutMs = options.operationTimeoutMs ?? 10_000;
  const client = postgres(options.url, {
    max: options.maxConnections ?? 10,
    connect_timeout: (options.connectTimeoutMs ?? 10_000) / 1000,
    backoff: reconnectDelaySeconds,
    connection: {
      application_name: "taskwire",
      search_path: quoteIdentifier(schema),
      // A statement still running when the caller gave up is cancelled by PostgreSQL itself.
      statement_timeout: operationTimeoutMs,
    },
    // postgres.js prints notices (e.g. "relation already exists, skipping") with console.log by default.
    onnotice: (notice) => logger.debug({ notice: notice.message, code: notice.code }, "postgres notice"),
  });
  const db = drizzle({ client: preparingStatements(client) });
  return new DrizzleTaskStore(db, {
    schema,
    logger,
    close: () => client.end({ timeout: CLOSE_TIMEOUT_S }),
    operationTimeoutMs,
  });
}
