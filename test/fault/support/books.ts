/**
 * The books of a fault test, read from PostgreSQL (the truth) after the fault: every task a
 * `SubmitBatch` acknowledged is there and terminal, none has two recorded results, every
 * recorded output comes from the attempt the task ended on, and attempt counts are plausible.
 * Beside them, the execution log of the fault tasks (`fault-tasks.ts`) says how many tasks ran
 * to their end more than once (at-least-once delivery allows it; it is reported, not refused),
 * and whether an attempt number was ever handed out twice: no (task, attempt) may appear in two
 * executions, nor twice among a task's recorded errors (`repeatedAttempts`, must be 0; the
 * fencing of every report rests on it, see `src/core/attempt-numbers.ts`).
 *
 * Attempt numbers may skip (an index rebuilt from PostgreSQL skips one for the tasks that were
 * waiting), so attempts are counted from the RUNNING transitions, not from the number.
 */
import { readFile } from "node:fs/promises";
import { fromBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import postgres from "postgres";
import type { TaskStateName, TaskTransition } from "../../../src/core/task-types.js";
import { quoteIdentifier } from "../../../src/store/sql-helpers.js";

const TERMINAL: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** What the books say. Every count is of tasks, except `executions`. */
export interface Books {
  /** Acknowledged by `SubmitBatch`. */
  submitted: number;
  /** Rows in PostgreSQL (acknowledged or not: a refused submission may still have been written). */
  stored: number;
  terminal: number;
  succeeded: number;
  failed: number;
  /** Acknowledged but not in PostgreSQL, or not terminal: must be 0. */
  lost: number;
  /** With more than one recorded outcome (terminal transition), or an output of another attempt: must be 0. */
  duplicated: number;
  /** Whose attempt count is not plausible (none started for a finished task, or more started than max attempts): must be 0. */
  implausible: number;
  /** (task, attempt) pairs run to their end by two executions, or recorded twice among a task's errors: must be 0. */
  repeatedAttempts: number;
  /** Executions that ran to their end (lines of the execution log). */
  executions: number;
  /** Tasks that ran to their end more than once (at-least-once: allowed, reported). */
  rerun: number;
  /** Tasks that started more than one attempt (an attempt was lost, or failed). */
  retried: number;
  /** The highest attempt number recorded. */
  maxAttempt: number;
}

interface Row {
  id: string;
  state: TaskStateName;
  attempt: number;
  max_attempts: number;
  output: Buffer | null;
  transitions: TaskTransition[];
  errors: { attempt: number }[];
}

/** A connection to a deployment's schema, for polling and for the books. */
export interface Ledger {
  /** Tasks not in a terminal state. */
  unfinished(): Promise<number>;
  /** Tasks in a terminal state. */
  finished(): Promise<number>;
  /** Tasks RUNNING (or CANCELLING), of `ids` only when given. */
  running(ids?: readonly string[]): Promise<number>;
  /** Reads the books; `acknowledged` are the ids `SubmitBatch` answered with. */
  books(acknowledged: readonly string[], executionLog: string): Promise<Books>;
  close(): Promise<void>;
}

/** Opens a ledger on `schema` of the PostgreSQL at `url`. */
export function openLedger(url: string, schema: string): Ledger {
  const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { search_path: quoteIdentifier(schema) } });
  return {
    async unfinished() {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from tasks where state not in ('SUCCEEDED', 'FAILED', 'CANCELLED')`;
      return row?.n ?? 0;
    },
    async finished() {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from tasks where state in ('SUCCEEDED', 'FAILED', 'CANCELLED')`;
      return row?.n ?? 0;
    },
    async running(ids) {
      const [row] =
        ids === undefined
          ? await sql<{ n: number }[]>`select count(*)::int as n from tasks where state in ('RUNNING', 'CANCELLING')`
          : await sql<{ n: number }[]>`select count(*)::int as n from tasks where state in ('RUNNING', 'CANCELLING') and id = any(${ids}::uuid[])`;
      return row?.n ?? 0;
    },
    async books(acknowledged, executionLog) {
      const rows = await sql<Row[]>`select id, state, attempt, max_attempts, output, transitions, errors from tasks`;
      return tally(rows, acknowledged, await readFile(executionLog, "utf8").catch(() => ""));
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

function tally(rows: readonly Row[], acknowledged: readonly string[], log: string): Books {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const runs = new Map<string, number>();
  const attemptsRun = new Map<string, number>();
  let executions = 0;
  for (const line of log.split("\n")) {
    const [id, attempt] = line.split(" ");
    if (!id) continue;
    executions++;
    runs.set(id, (runs.get(id) ?? 0) + 1);
    const key = `${id} ${attempt ?? ""}`;
    attemptsRun.set(key, (attemptsRun.get(key) ?? 0) + 1);
  }
  const started = (row: Row): number => row.transitions.filter((t) => t.state === "RUNNING").length;
  const books: Books = {
    submitted: acknowledged.length,
    stored: rows.length,
    terminal: 0,
    succeeded: 0,
    failed: 0,
    lost: 0,
    duplicated: 0,
    implausible: 0,
    repeatedAttempts: [...attemptsRun.values()].filter((count) => count > 1).length,
    executions,
    rerun: [...runs.values()].filter((count) => count > 1).length,
    retried: rows.filter((row) => started(row) > 1).length,
    maxAttempt: 0,
  };
  for (const id of acknowledged) {
    const row = byId.get(id);
    if (row === undefined || !TERMINAL.has(row.state)) books.lost++;
  }
  for (const row of rows) {
    books.maxAttempt = Math.max(books.maxAttempt, row.attempt);
    const errorAttempts = row.errors.map((e) => e.attempt);
    if (new Set(errorAttempts).size !== errorAttempts.length) books.repeatedAttempts++;
    if (!TERMINAL.has(row.state)) continue;
    books.terminal++;
    if (row.state === "SUCCEEDED") books.succeeded++;
    if (row.state === "FAILED") books.failed++;
    const outcomes = row.transitions.filter((t) => TERMINAL.has(t.state)).length;
    const outputAttempt = row.output === null ? undefined : outputOf(row.output).attempt;
    if (outcomes !== 1 || (row.state === "SUCCEEDED" && outputAttempt !== row.attempt)) books.duplicated++;
    if ((row.state !== "CANCELLED" && started(row) < 1) || started(row) > row.max_attempts) books.implausible++;
  }
  return books;
}

function outputOf(bytes: Buffer): { attempt?: number } {
  const json = toJson(StructSchema, fromBinary(StructSchema, new Uint8Array(bytes)));
  return typeof json === "object" && json !== null && !Array.isArray(json) ? (json as { attempt?: number }) : {};
}
