/**
 * How the CLI shows things: tables and fields for people, proto JSON for machines (`--json`).
 */
import { toJson, type JsonObject, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { durationMs, timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ParentFailurePolicy, TaskSchema, TaskState, type Progress, type Task, type TaskError, type TaskType } from "../../gen/taskwire/v1/task_pb.js";
import {
  ListTasksResponseSchema,
  ListTypesResponseSchema,
  type ListTasksResponse,
} from "../../gen/taskwire/v1/task_service_pb.js";
import { anyToJson, anyValueToJson, errorKindName, taskStateName } from "../client/index.js";
import { formatDuration as formatDurationMs } from "../core/durations.js";

/** Left-aligned columns separated by two spaces, with a header row. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** `name: value` lines with aligned values; empty values are left out. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const shown = fields.filter(([, value]) => value !== "");
  const width = Math.max(0, ...shown.map(([name]) => name.length + 1));
  return shown.map(([name, value]) => `${`${name}:`.padEnd(width)}  ${value}\n`).join("");
}

/** Milliseconds as "250ms", "30s", "1m30s", "2h", "1d2h": the text `--timeout` and the other flags read back. */
export function formatMs(ms: number): string {
  return formatDurationMs(ms);
}

/** A duration, or "" when unset. */
export function formatDuration(duration: Duration | undefined): string {
  return duration ? formatMs(durationMs(duration)) : "";
}

/** A time as ISO 8601 in UTC to the second, or "" when unset. */
export function formatTime(time: Timestamp | undefined): string {
  return time ? timestampDate(time).toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

/** Progress as "42% 42/100 message"; "" when there is none. */
export function formatProgress(progress: Progress | undefined): string {
  if (!progress) return "";
  const parts = [`${Math.floor(progress.percent)}%`];
  if (progress.current !== undefined) {
    parts.push(progress.total !== undefined ? `${progress.current}/${progress.total}` : `${progress.current}`);
  }
  if (progress.message) parts.push(progress.message);
  return parts.join(" ");
}

/** Labels as `key=value` pairs in key order, comma-separated; "" when none. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key] ?? ""}`)
    .join(", ");
}

/** A task's details, one field a line. */
export function formatTaskDetails(task: Task): string {
  const attempts = task.maxAttempts > 0 ? `${task.attempt} of ${task.maxAttempts}` : `${task.attempt}`;
  const text = formatFields([
    ["id", task.id],
    ["type", task.type],
    ["state", taskStateName(task.state)],
    ["attempt", attempts],
    ["queue", task.queue],
    ["priority", String(task.priority)],
    ["progress", formatProgress(task.progress)],
    ["worker", task.workerId],
    ["timeout", formatDuration(task.timeout)],
    ["idempotency key", task.idempotencyKey],
    ["concurrency key", task.concurrencyKey],
    ["labels", formatLabels(task.labels)],
    // Issue 17: dependencies (`taskwire tasks tree <id>` draws the graph).
    ["parents", task.parentIds.length === 0 ? "" : `${task.parentIds.join(", ")} (if one fails: ${task.onParentFailure === ParentFailurePolicy.RUN ? "run" : "cancel"})`],
    ["children", task.childrenCount > 0 ? String(task.childrenCount) : ""],
    ["context", task.context && Object.keys(task.context).length > 0 ? JSON.stringify(task.context) : ""],
    ["created", formatTime(task.createTime)],
    ["scheduled", formatTime(task.scheduleTime)],
    ["started", formatTime(task.startTime)],
    ["finished", formatTime(task.finishTime)],
  ]);
  return task.errors.length === 0 ? text : `${text}errors:\n${formatTaskErrors(task)}`;
}

/**
 * One line per failed attempt, indented; the last one is followed by its stack and its
 * details as JSON, indented under it.
 */
export function formatTaskErrors(task: Task): string {
  return task.errors
    .map((error, index) => {
      const what = error.name ? `${error.name}: ${error.message}` : error.message;
      const notes = [error.retryable ? "retryable" : "not retryable", error.workerId && `worker ${error.workerId}`, formatTime(error.time)];
      const line = `  attempt ${error.attempt}  ${errorKindName(error.kind)}  ${what}  (${notes.filter((n) => n).join(", ")})\n`;
      return index === task.errors.length - 1 ? line + formatErrorStackAndDetails(error, what) : line;
    })
    .join("");
}

/** Lines indented by four spaces. */
function indented(text: string): string {
  return text
    .split("\n")
    .map((line) => (line ? `    ${line}` : ""))
    .join("\n");
}

/**
 * An error's stack (without its first line when that only repeats the name and message, as a
 * JavaScript stack does) and its details as indented JSON; "" when it has neither.
 */
function formatErrorStackAndDetails(error: TaskError, what: string): string {
  let text = "";
  const lines = error.stack.replace(/\s+$/, "").split("\n");
  if (lines[0] !== undefined && lines[0] !== "" && what.startsWith(lines[0].trim())) lines.shift();
  if (lines.some((line) => line.trim() !== "")) text += `${indented(lines.join("\n"))}\n`;
  if (error.details) text += `${indented(`details: ${JSON.stringify(error.details, null, 2)}`)}\n`;
  return text;
}

/** The table of `taskwire tasks list`. */
export function formatTaskTable(tasks: readonly Task[]): string {
  return formatTable(
    ["ID", "TYPE", "STATE", "QUEUE", "PRIORITY", "ATTEMPT", "PROGRESS", "CREATED"],
    tasks.map((task) => [
      task.id,
      task.type,
      taskStateName(task.state),
      task.queue,
      String(task.priority),
      task.maxAttempts > 0 ? `${task.attempt}/${task.maxAttempts}` : String(task.attempt),
      task.state === TaskState.SUCCEEDED ? "100%" : task.progress ? `${Math.floor(task.progress.percent)}%` : "",
      formatTime(task.createTime),
    ]),
  );
}

/** The table of `taskwire types`. */
export function formatTypeTable(types: readonly TaskType[]): string {
  // The owner (issue 15) only where the server has them: one that checks no keys has none.
  const owners = types.some((type) => type.owner !== "");
  return formatTable(
    ["NAME", "INPUT", "OUTPUT", "QUEUE", "PRIORITY", "TIMEOUT", "ATTEMPTS", "WORKERS", ...(owners ? ["OWNER"] : []), "DESCRIPTION"],
    types.map((type) => [
      type.name,
      type.inputType,
      type.outputType,
      type.defaults?.queue || "(by priority)",
      String(type.defaults?.priority ?? 0),
      formatDuration(type.defaults?.timeout) || "none",
      String(type.defaults?.maxAttempts ?? ""),
      String(type.workerCount),
      ...(owners ? [type.owner || "(none)"] : []),
      type.description,
    ]),
  );
}

/** Fields of `Task` that precede `input` in the proto. */
const BEFORE_INPUT: ReadonlySet<string> = new Set(["id", "type", "queue", "priority", "state"]);

/**
 * A task as proto JSON. Its input and output are shown with their type when the registry knows
 * it, and as base64 bytes otherwise, so an unknown type never stops the output.
 */
export function taskToJson(task: Task, registry: Registry): JsonObject {
  const json = toJson(TaskSchema, { ...task, input: undefined, output: undefined }) as JsonObject;
  const values: JsonObject = {};
  if (task.input) values["input"] = anyToJson(task.input, registry);
  if (task.output) values["output"] = anyToJson(task.output, registry);
  // Keep the proto field order: input and output come right after state.
  const entries = Object.entries(json);
  const at = entries.findIndex(([key]) => !BEFORE_INPUT.has(key));
  entries.splice(at < 0 ? entries.length : at, 0, ...Object.entries(values));
  return Object.fromEntries(entries) as JsonObject;
}

/** A page of tasks as proto JSON (`totalCount` is a string, as int64s are). */
export function taskPageToJson(page: ListTasksResponse, registry: Registry): JsonObject {
  const json = toJson(ListTasksResponseSchema, { ...page, tasks: [] }) as JsonObject;
  return { tasks: page.tasks.map((task) => taskToJson(task, registry)), ...json };
}

/** The catalog as proto JSON. */
export function typesToJson(types: TaskType[]): JsonObject {
  return toJson(ListTypesResponseSchema, { $typeName: "taskwire.v1.ListTypesResponse", types }) as JsonObject;
}

/** A task's output for people: strings as they are, anything else as indented JSON. */
export function formatOutput(task: Task, registry: Registry): string {
  if (!task.output) return "";
  const value: JsonValue = anyValueToJson(task.output, registry);
  return typeof value === "string" ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`;
}

/** Indented JSON and a newline. */
export function jsonLine(value: JsonValue): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
