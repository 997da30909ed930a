/**
 * Fixtures of the store tests: a task to submit, an attempt's error, times after a fixed T0, and
 * short ways to a task in a given state. The store contract (`./store-contract.ts`, which
 * exports them again for the tests that import them from there) and the admin contract
 * (`./admin-contract.ts`) share them.
 */
import { uuidv7 } from "uuidv7";
import type { AttemptError, BackoffPolicy, NewTask, TaskRecord, TaskStateName, WorkerRecord } from "../../src/core/task-types.js";
import type { TaskStore } from "../../src/store/store.js";

export const BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, multiplier: 2, jitter: 0.2 };
export const T0 = new Date("2030-01-01T00:00:00.000Z");

/** `ms` after T0. */
export function at(ms: number): Date {
  return new Date(T0.getTime() + ms);
}

/** A new task of type `demo.echo`, QUEUED at T0, with a fresh id. */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: uuidv7(),
    type: "demo.echo",
    queue: "default",
    priority: 0,
    state: "QUEUED",
    inputTypeUrl: "type.googleapis.com/google.protobuf.Struct",
    input: new Uint8Array([1, 2, 3]),
    maxAttempts: 3,
    timeoutMs: 60_000,
    backoff: BACKOFF,
    idempotencyKey: null,
    createdAt: T0,
    scheduledAt: T0,
    ...overrides,
  };
}

/** The error of a failed attempt, retryable unless overridden. */
export function attemptError(attempt: number, overrides: Partial<AttemptError> = {}): AttemptError {
  return {
    attempt,
    kind: "TASK_ERROR",
    name: "Error",
    message: `attempt ${attempt} failed`,
    retryable: true,
    workerId: "worker-1",
    time: at(attempt * 10).toISOString(),
    ...overrides,
  };
}

/** Inserts one task and returns its record. */
export async function insertOne(store: TaskStore, overrides: Partial<NewTask> = {}): Promise<TaskRecord> {
  const [result] = await store.insertTasks([newTask(overrides)]);
  if (!result) throw new Error("nothing inserted");
  return result.task;
}

/** Starts attempts of tasks of the fixture's type and returns those started. */
export async function startOnly(store: TaskStore, ids: readonly string[], workerId: string, now: Date): Promise<TaskRecord[]> {
  return (await store.startAttempts(ids, workerId, now, ["demo.echo"])).started;
}

/** Inserts one task and starts its first attempt. */
export async function runningTask(store: TaskStore, overrides: Partial<NewTask> = {}): Promise<TaskRecord> {
  const task = await insertOne(store, overrides);
  const [started] = await startOnly(store, [task.id], "worker-1", at(1));
  if (!started) throw new Error("not started");
  return started;
}

/** The task, which must exist. */
export async function mustGet(store: TaskStore, id: string): Promise<TaskRecord> {
  const task = await store.getTask(id);
  if (!task) throw new Error(`no task ${id}`);
  return task;
}

/** A connected worker of session `session-1` on server `server-1`, serving two queues and two types. */
export function worker(id: string, overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id,
    host: "host-1",
    pid: 1234,
    queues: ["high_priority", "default"],
    slots: 4,
    types: ["demo.echo", "demo.sleep"],
    sdk: "taskwire-ts/0.1.0",
    sessionId: "session-1",
    connectedAt: at(0),
    lastSeenAt: at(0),
    disconnectedAt: null,
    serverId: "server-1",
    state: "CONNECTED",
    ...overrides,
  };
}

/** Starts attempts of the given tasks, of any type, on `workerId`. */
export async function start(store: TaskStore, tasks: readonly TaskRecord[], workerId: string, now: Date): Promise<TaskRecord[]> {
  const types = [...new Set(tasks.map((task) => task.type))];
  return (await store.startAttempts(tasks.map((task) => task.id), workerId, now, types)).started;
}

/**
 * A task in `state`, submitted as `options.task` says (a SCHEDULED one due an hour after T0);
 * a finished one finished at `options.finishedAt` (a FAILED one by a non-retryable error), a
 * held one started by `options.workerId`.
 */
export async function taskIn(
  store: TaskStore,
  state: TaskStateName,
  options: { finishedAt?: Date; workerId?: string; task?: Partial<NewTask> } = {},
): Promise<TaskRecord> {
  const finishedAt = options.finishedAt ?? at(100);
  const workerId = options.workerId ?? "worker-1";
  if (state === "QUEUED" || state === "SCHEDULED") {
    return insertOne(store, { state, scheduledAt: state === "SCHEDULED" ? at(3_600_000) : at(0), ...options.task });
  }
  const task = await insertOne(store, options.task);
  if (state === "CANCELLED") return (await store.cancelTask(task.id, "test", finishedAt))!.task;
  const [running] = await start(store, [task], workerId, at(1));
  if (!running) throw new Error("not started");
  if (state === "RUNNING") return running;
  if (state === "CANCELLING") return (await store.cancelTask(task.id, "test", at(2)))!.task;
  const [finished] = await store.finishAttempts(
    [
      state === "SUCCEEDED"
        ? { kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([1]) }
        : { kind: "failed", id: task.id, attempt: 1, error: attemptError(1, { retryable: false }) },
    ],
    finishedAt,
  );
  if (!finished) throw new Error("not finished");
  return finished;
}
