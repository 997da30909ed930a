/**
 * Applies the SQL migrations that drizzle-kit generated into `drizzle/`, at server start and by
 * `taskwire migrate`.
 *
 * Everything happens in ONE transaction on one connection, behind a transaction-level advisory
 * lock per schema, so that several servers starting at once against a fresh database take turns:
 * the first creates the schema and applies the migrations, the others wait for its commit and
 * then find nothing left to do. A failed migration rolls back entirely.
 *
 * The journal has drizzle's own layout (`__drizzle_migrations`: hash and the migration's
 * `created_at` millis from `drizzle/meta/_journal.json`) but lives in the configured schema, next
 * to the tables, so that one PostgreSQL database can hold several independent Taskwire schemas.
 * This reimplements the loop of drizzle's migrator (instead of calling a driver's `migrate`)
 * because that one runs its statements outside the lock's connection and is driver-specific.
 */
import { fileURLToPath } from "node:url";
import { desc, sql } from "drizzle-orm";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { bigint, pgTable, serial, text } from "drizzle-orm/pg-core";
import type { Logger } from "../core/logger.js";
import type { TaskwireDatabase } from "./database.js";

/** The folder drizzle-kit writes migrations to, resolved from this file (`src/store/` → `drizzle/`). */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** First key of Taskwire's advisory locks (the second is a hash of the schema name). */
const MIGRATION_LOCK = 0x7461736b; // "task"

const JOURNAL_TABLE = "__drizzle_migrations";

/** drizzle's migrations journal; unqualified: `search_path` is set to the schema first. */
const journal = pgTable(JOURNAL_TABLE, {
  id: serial("id").primaryKey(),
  hash: text("hash").notNull(),
  createdAt: bigint("created_at", { mode: "number" }),
});

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The PostgreSQL schema to hold the tables and the journal; created when missing. */
  schema: string;
  logger: Logger;
  /** Where the migrations are. @default {@link MIGRATIONS_FOLDER} */
  migrationsFolder?: string;
}

/**
 * Applies the pending migrations into `options.schema`. Idempotent, and safe when several
 * processes call it at once.
 * @returns the number of migrations applied (0 when the schema was up to date).
 */
export async function migrate(db: TaskwireDatabase, options: MigrateOptions): Promise<number> {
  const migrations = readMigrationFiles({ migrationsFolder: options.migrationsFolder ?? MIGRATIONS_FOLDER });
  const schema = sql.identifier(options.schema);
  const applied = await db.transaction(async (tx) => {
    // Waiting for another server's migration, and building an index on a big table, may take
    // longer than the statement timeout of the server's connections (`databaseTimeoutMs`).
    await tx.execute(sql`set local statement_timeout = 0`);
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK}::int, hashtext(${options.schema}::text))`);
    // Existence is checked first: `create ... if not exists` needs the CREATE privilege even
    // when the object exists, which the role of a server may well not have once migrated.
    const found = await tx
      .select({ kind: sql<string>`'schema'` })
      .from(sql`pg_catalog.pg_namespace`)
      .where(sql`nspname = ${options.schema}::text`)
      .unionAll(
        tx
          .select({ kind: sql<string>`'journal'` })
          .from(sql`pg_catalog.pg_tables`)
          .where(sql`schemaname = ${options.schema}::text and tablename = ${JOURNAL_TABLE}::text`),
      );
    const kinds = new Set(found.map((row) => row.kind));
    if (!kinds.has("schema")) await tx.execute(sql`create schema ${schema}`);
    await tx.execute(sql`set local search_path to ${schema}`);
    if (!kinds.has("journal")) {
      await tx.execute(sql`create table ${journal} (id serial primary key, hash text not null, created_at bigint)`);
    }
    const [last] = await tx.select({ createdAt: journal.createdAt }).from(journal).orderBy(desc(journal.createdAt)).limit(1);
    const lastApplied = last?.createdAt ?? -Infinity;
    let count = 0;
    for (const migration of migrations) {
      if (migration.folderMillis <= lastApplied) continue;
      for (const statement of migration.sql) {
        if (statement.trim() !== "") await tx.execute(sql.raw(statement));
      }
      await tx.insert(journal).values({ hash: migration.hash, createdAt: migration.folderMillis });
      count += 1;
    }
    return count;
  });
  if (applied > 0) options.logger.info({ schema: options.schema, applied }, "applied database migrations");
  else options.logger.debug({ schema: options.schema }, "database schema up to date");
  return applied;
}
