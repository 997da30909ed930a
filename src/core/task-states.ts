/**
 * The one table of task states. Every list of states in TypeScript and SQL (terminal, waiting,
 * held by a worker, unfinished; the table's check constraint and partial indexes) is derived
 * from it, so a state is added or reclassified in one place. See `TaskState` in
 * `proto/taskwire/v1/task.proto` for what each state means.
 */

/**
 * Each state and what it is: blocked on its parents (`depends_on`: not in the broker's index
 * until the last one finishes), waiting for a slot, held by a worker, or finished for good.
 * Mind the names: the state `WAITING` is of the kind `blocked`, not of `waiting` (QUEUED and
 * SCHEDULED, which wait for a worker slot).
 */
export const TASK_STATES = {
  WAITING: "blocked",
  QUEUED: "waiting",
  SCHEDULED: "waiting",
  RUNNING: "held",
  CANCELLING: "held",
  SUCCEEDED: "terminal",
  FAILED: "terminal",
  CANCELLED: "terminal",
} as const satisfies Record<string, "blocked" | "waiting" | "held" | "terminal">;

/** Lifecycle states, as stored. */
export type TaskStateName = keyof typeof TASK_STATES;

/** What a state is: see {@link TASK_STATES}. */
export type TaskStateKind = (typeof TASK_STATES)[TaskStateName];

/** Every state, in lifecycle order. */
export const ALL_STATES = Object.keys(TASK_STATES) as readonly TaskStateName[];

function statesOf(kind: TaskStateKind): readonly TaskStateName[] {
  return ALL_STATES.filter((state) => TASK_STATES[state] === kind);
}

/** States a task waits in for its parents: stored only, never in the broker's index. */
export const BLOCKED_STATE_LIST = statesOf("blocked");
/** States a task waits in for a slot (in the broker's runnable or delayed sets). */
export const WAITING_STATE_LIST = statesOf("waiting");
/** States of an attempt a worker holds. */
export const HELD_STATE_LIST = statesOf("held");
/** States a task never leaves. */
export const TERMINAL_STATE_LIST = statesOf("terminal");
/** States the broker indexes: waiting for a slot, or held by a worker (the reconciler's and the rebuild's list). */
export const INDEXED_STATE_LIST: readonly TaskStateName[] = [...WAITING_STATE_LIST, ...HELD_STATE_LIST];
/** Every state but the terminal ones. */
export const UNFINISHED_STATE_LIST: readonly TaskStateName[] = [...BLOCKED_STATE_LIST, ...INDEXED_STATE_LIST];

/** States a task never leaves. */
export const TERMINAL_STATES: ReadonlySet<TaskStateName> = new Set(TERMINAL_STATE_LIST);
/** States a task waits in for its parents (WAITING). */
export const BLOCKED_STATES: ReadonlySet<TaskStateName> = new Set(BLOCKED_STATE_LIST);
/** States a task waits in for a slot. */
export const WAITING_STATES: ReadonlySet<TaskStateName> = new Set(WAITING_STATE_LIST);
/** States of an attempt a worker holds. */
export const HELD_STATES: ReadonlySet<TaskStateName> = new Set(HELD_STATE_LIST);

/** Whether `value` names a state. */
export function isTaskState(value: string): value is TaskStateName {
  return Object.hasOwn(TASK_STATES, value);
}

/** An SQL list of states, `('A', 'B')`, for `state in ...` (the names are fixed identifiers, never user input). */
export function sqlStateList(states: readonly TaskStateName[]): string {
  return `(${states.map((state) => `'${state}'`).join(", ")})`;
}
