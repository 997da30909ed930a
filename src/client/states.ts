/**
 * Task states by name, as users type and read them ("running", "FAILED"), and the terminal test.
 */
import { ErrorKind, TaskState } from "../../gen/taskwire/v1/task_pb.js";

const TERMINAL: ReadonlySet<TaskState> = new Set([TaskState.SUCCEEDED, TaskState.FAILED, TaskState.CANCELLED]);

/** True for SUCCEEDED, FAILED and CANCELLED: states a task never leaves. */
export function isTerminalState(state: TaskState): boolean {
  return TERMINAL.has(state);
}

/** The state's name without prefix, e.g. `"RUNNING"`; `"UNSPECIFIED"` for unknown values. */
export function taskStateName(state: TaskState): string {
  return TaskState[state] ?? "UNSPECIFIED";
}

/** The error kind's name without prefix, e.g. `"DEADLINE_EXCEEDED"`. */
export function errorKindName(kind: ErrorKind): string {
  return ErrorKind[kind] ?? "UNSPECIFIED";
}

/**
 * Parses a state name, case-insensitive, with or without the `TASK_STATE_` prefix.
 * @returns undefined when the name is not a state (UNSPECIFIED is not one).
 */
export function parseTaskState(name: string): TaskState | undefined {
  const key = name.trim().toUpperCase().replace(/^TASK_STATE_/, "");
  if (key === "UNSPECIFIED" || !Object.hasOwn(TaskState, key)) return undefined;
  const value = (TaskState as unknown as Record<string, unknown>)[key];
  return typeof value === "number" ? (value as TaskState) : undefined;
}

/** Every state a task can be in, in lifecycle order. */
export const TASK_STATES: readonly TaskState[] = [
  TaskState.WAITING,
  TaskState.SCHEDULED,
  TaskState.QUEUED,
  TaskState.RUNNING,
  TaskState.CANCELLING,
  TaskState.SUCCEEDED,
  TaskState.FAILED,
  TaskState.CANCELLED,
];
