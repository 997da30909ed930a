/**
 * The store: PostgreSQL is the source of truth for tasks, task types and workers. See
 * `store.ts` for the contract and `schema.ts` for the tables.
 */
export type { AttemptOutcome, CancelOutcome, TaskFilter, TaskStore } from "./store.js";
export type { TaskwireDatabase } from "./database.js";
export { createPostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
export { createPgliteStore, PGLITE_IN_MEMORY, type PgliteStoreOptions } from "./pglite-store.js";
export { acquireDataDirLock, DataDirLockedError, type DataDirLock } from "./data-dir-lock.js";
export { DrizzleTaskStore, type DrizzleTaskStoreOptions } from "./drizzle-task-store.js";
export { migrate, MIGRATIONS_FOLDER, type MigrateOptions } from "./migrate.js";
