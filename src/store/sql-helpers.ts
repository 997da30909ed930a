/**
 * Small pieces of SQL shared by the queries. They pass lists and dates as text parameters with
 * an explicit cast, because drivers disagree on how they send JS arrays and `Date`s (drizzle's
 * postgres.js driver turns off postgres.js's date serializer), while every driver sends a string.
 */
import { Placeholder, sql, type SQL } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { HELD_STATE_LIST, INDEXED_STATE_LIST, sqlStateList, TERMINAL_STATE_LIST, UNFINISHED_STATE_LIST, WAITING_STATE_LIST } from "../core/task-states.js";
import type { TaskwireDatabase } from "./database.js";

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
export function anyOf(column: PgColumn, values: readonly string[] | Placeholder, type: "uuid" | "text"): SQL {
  const list = values instanceof Placeholder ? values : arrayLiteral(values);
  return sql`${column} = any(${list}::${sql.raw(type)}[])`;
}

/** A `timestamptz` parameter (sent as ISO 8601 text; a placeholder takes that text). */
export function timestampParam(date: Date | Placeholder): SQL {
  return sql`${date instanceof Placeholder ? date : date.toISOString()}::timestamptz`;
}

/**
 * A `json` parameter holding rows for `json_to_recordset`: a whole batch as one parameter,
 * whatever its size (a placeholder takes the JSON text).
 */
export function jsonParam(value: unknown): SQL {
  return sql`${value instanceof Placeholder ? value : JSON.stringify(value)}::json`;
}

/**
 * A statement built once per database and run many times with new placeholder values. Building
 * a statement with Drizzle costs about 0.35 ms of CPU, as much as PostgreSQL takes to run a
 * small one; the hot statements (start and finish attempts, insert tasks) skip it this way.
 */
export function preparedOnce<T>(build: (db: TaskwireDatabase) => T): (db: TaskwireDatabase) => T {
  const statements = new WeakMap<TaskwireDatabase, T>();
  return (db) => {
    let statement = statements.get(db);
    if (statement === undefined) {
      statement = build(db);
      statements.set(db, statement);
    }
    return statement;
  };
}

/** Bytes as base64 text, to travel inside a JSON parameter (`decode(x, 'base64')` in SQL). */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** States a task is not finished in (WAITING among them). Inlined, so partial indexes apply. */
export const SQL_UNFINISHED = sql.raw(sqlStateList(UNFINISHED_STATE_LIST));

/** States the broker indexes (not WAITING, whose tasks wait for their parents). Inlined, so `tasks_unfinished_id_idx` applies. */
export const SQL_INDEXED = sql.raw(sqlStateList(INDEXED_STATE_LIST));

/** States in which a worker holds the task's current attempt. */
export const SQL_HELD = sql.raw(sqlStateList(HELD_STATE_LIST));

/** States in which a task waits for a slot. */
export const SQL_WAITING = sql.raw(sqlStateList(WAITING_STATE_LIST));

/** States a task never leaves. */
export const SQL_TERMINAL = sql.raw(sqlStateList(TERMINAL_STATE_LIST));

/**
 * A column as an expression no index matches (`column || ''`). The statements that reach their
 * rows by id (start, finish, progress, promotion) guard the state with it, so that the planner
 * always goes through the ids. Guarded on the bare column, an estimate of "hardly any RUNNING
 * task" (statistics taken while nothing ran, which a busy queue keeps close to true) made it
 * read every RUNNING entry of `tasks_state_id_idx` — dead ones too, until a vacuum — for each
 * batch: a one-task finish took 3.4 ms of PostgreSQL's CPU after a few thousand tasks.
 */
export function unindexed(column: PgColumn): SQL {
  return sql`(${column} || '')`;
}

/** `transitions || [{state, attempt, time}]`: the entry every state change appends. */
export function appendTransition(transitions: PgColumn, state: SQL, attempt: SQL, now: Date | Placeholder): SQL {
  const time = now instanceof Placeholder ? now : now.toISOString();
  return sql`${transitions} || jsonb_build_array(jsonb_build_object('state', ${state}, 'attempt', ${attempt}, 'time', ${time}::text))`;
}
