/**
 * Small pieces of SQL shared by the queries. They pass lists and dates as text parameters with
 * an explicit cast, because drivers disagree on how they send JS arrays and `Date`s (drizzle's
 * postgres.js driver turns off postgres.js's date serializer), while every driver sends a string.
 */
import { sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

/** Accepts the textual forms of a UUID PostgreSQL would accept as a task id (any version). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `value` can be a task id. Ids that cannot are treated as unknown tasks rather than
 * sent to PostgreSQL, where one bad id would fail a whole batch with `invalid input syntax`.
 */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Quotes an SQL identifier (`my"schema` → `"my""schema"`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A PostgreSQL array literal of text elements, every element quoted: `{"a","b\"c"}`. */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
}

/**
 * `column = any($1::type[])`: one parameter and one statement text whatever the number of
 * values, so it stays one prepared statement and never meets the 65,535-parameter limit.
 */
export function anyOf(column: PgColumn, values: readonly string[], type: "uuid" | "text"): SQL {
  return sql`${column} = any(${arrayLiteral(values)}::${sql.raw(type)}[])`;
}

/** A `timestamptz` parameter (sent as ISO 8601 text). */
export function timestampParam(date: Date): SQL {
  return sql`${date.toISOString()}::timestamptz`;
}

/**
 * A `json` parameter holding rows for `json_to_recordset`: a whole batch as one parameter,
 * whatever its size.
 */
export function jsonParam(value: unknown): SQL {
  return sql`${JSON.stringify(value)}::json`;
}

/** Bytes as base64 text, to travel inside a JSON parameter (`decode(x, 'base64')` in SQL). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** States a task is not finished in: the broker indexes them. Inlined, so partial indexes apply. */
export const UNFINISHED_STATES = sql.raw(`('QUEUED', 'SCHEDULED', 'RUNNING', 'CANCELLING')`);

/** States in which a worker holds the task's current attempt. */
export const HELD_STATES = sql.raw(`('RUNNING', 'CANCELLING')`);

/** `transitions || [{state, attempt, time}]`: the entry every state change appends. */
export function appendTransition(transitions: PgColumn, state: SQL, attempt: SQL, now: Date): SQL {
  return sql`${transitions} || jsonb_build_array(jsonb_build_object('state', ${state}, 'attempt', ${attempt}, 'time', ${now.toISOString()}::text))`;
}
