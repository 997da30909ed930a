/**
 * The driver-neutral handle every query takes: any Drizzle PostgreSQL database (postgres.js
 * today, PGlite for the embedded mode), without relational-query schema. Queries use the query
 * builder and `sql` templates only, never a driver's own API, so that they run on both.
 */
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";

/** A Drizzle PostgreSQL database, whatever its driver. */
export type TaskwireDatabase = PgDatabase<PgQueryResultHKT>;
