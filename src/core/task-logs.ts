/**
 * Stored task logs: the lines a worker sends (`LogReport`, `ctx.log` in the TypeScript SDK),
 * kept per task in PostgreSQL (`task_logs`), bounded per task, read back a page at a time
 * (`GetTaskLogs`) or followed live (`StreamTaskLogs`). The README's "Logs of a task" and
 * docs/worker-protocol.md ("Logs") must stay in line with this file.
 */
import type { JsonObject } from "@bufbuild/protobuf";

/** The levels of a task log line, lowest first. */
export const TASK_LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A task log line's level. */
export type TaskLogLevelName = (typeof TASK_LOG_LEVELS)[number];

/** Whether `value` names a level. */
export function isTaskLogLevel(value: string): value is TaskLogLevelName {
  return (TASK_LOG_LEVELS as readonly string[]).includes(value);
}

/** The levels at `min` or above (`"warn"` → warn, error). */
export function levelsFrom(min: TaskLogLevelName): TaskLogLevelName[] {
  return TASK_LOG_LEVELS.slice(TASK_LOG_LEVELS.indexOf(min));
}

/** A line to store, as the server accepted it from a worker. */
export interface NewTaskLogLine {
  taskId: string;
  attempt: number;
  level: TaskLogLevelName;
  message: string;
  /** Structured fields (a JSON object); undefined: none. */
  fields?: JsonObject;
  /** When the worker wrote it (the server's receive time when the worker sent none). */
  time: Date;
}

/** A stored line, with its place in the task's log. */
export interface TaskLogLineRecord extends NewTaskLogLine {
  /** Orders the task's lines as they were received (`task_logs.id`); the cursor of reads. */
  sequence: bigint;
}

/** What one batch of lines did to the logs of the tasks it held. */
export interface AppendedLogs {
  /** The lines stored, in order (lines of unknown tasks and lines past a bound are not). */
  stored: TaskLogLineRecord[];
  /** Lines not stored because their task was at one of its bounds, by task id. */
  dropped: Map<string, number>;
}

/** The per-task bounds of stored logs (`--max-task-log-lines`, `--max-task-log-bytes`). */
export interface TaskLogBounds {
  maxLines: number;
  maxBytes: number;
}

/** A read of one task's lines: those after `afterSequence`, oldest first. */
export interface TaskLogQuery {
  taskId: string;
  /** 0n: from the first line. */
  afterSequence: bigint;
  /** Only this attempt's lines; undefined: every attempt. */
  attempt?: number;
  /** Only these levels; undefined: all. */
  levels?: readonly TaskLogLevelName[];
  limit: number;
}

/** The lines read, and the task's totals. */
export interface TaskLogPage {
  lines: TaskLogLineRecord[];
  /** Lines stored for the task (every attempt and level). */
  storedCount: number;
  /** Lines not stored because the task was at one of its bounds. */
  droppedCount: number;
}

/** The bytes a line counts against its task's `--max-task-log-bytes`: its message and its fields' JSON. */
export function logLineBytes(line: Pick<NewTaskLogLine, "message" | "fields">): number {
  return Buffer.byteLength(line.message) + (line.fields === undefined ? 0 : Buffer.byteLength(JSON.stringify(line.fields)));
}
