/**
 * Domain types shared by the store, the broker and the server. They are plain data in
 * camelCase; the server converts them to and from the generated protobuf messages.
 */

export { TERMINAL_STATES } from "./task-states.js";
export type { TaskStateName } from "./task-states.js";
import type { LimitValues } from "./dispatch-limits.js";
import type { TaskStateName } from "./task-states.js";

/** Why an attempt ended without an output. See `ErrorKind` in the proto. */
export type ErrorKindName = "TASK_ERROR" | "DEADLINE_EXCEEDED" | "WORKER_LOST" | "CANCELLED" | "UNSUPPORTED";

/**
 * What a task waiting for its parents does when one of them FAILED or was CANCELLED: be
 * CANCELLED too (its error naming the parent), or count the parent as finished and run. See
 * `ParentFailurePolicy` in the proto.
 */
export type ParentFailurePolicyName = "CANCEL" | "RUN";

/** A JSON value, as stored in `jsonb` columns. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** Exponential back-off between attempts. */
export interface BackoffPolicy {
  /** Delay before the second attempt, in milliseconds. */
  initialMs: number;
  /** Upper bound of any delay, in milliseconds. */
  maxMs: number;
  /** Growth factor per attempt. */
  multiplier: number;
  /** Random spread, a fraction from 0 to 1 (0.2 means ±20 %). */
  jitter: number;
}

/** The error of one attempt. */
export interface AttemptError {
  attempt: number;
  kind: ErrorKindName;
  name: string;
  message: string;
  retryable: boolean;
  workerId: string;
  /** ISO 8601. */
  time: string;
  /** The stack trace the worker reported, at most {@link MAX_ERROR_STACK_BYTES}; absent: none. */
  stack?: string;
  /** Structured details of the error (a JSON object); absent: none. */
  details?: JsonObject;
}

/** Most bytes of an error's stack kept per attempt (longer ones are cut, keeping the top). */
export const MAX_ERROR_STACK_BYTES = 16 * 1024;
/** Most bytes of an error's details (as JSON) kept per attempt; larger details are dropped with a note. */
export const MAX_ERROR_DETAILS_BYTES = 16 * 1024;

/** The last progress of a task. */
export interface TaskProgress {
  percent: number;
  message: string;
  current?: number;
  total?: number;
  details?: JsonObject;
  /** ISO 8601. */
  updateTime: string;
}

/**
 * What a worker's progress update saves for its attempt (`TaskProgress` of the worker protocol):
 * its progress, its task's whole context (`ctx.context`), or both; what is absent is kept.
 */
export interface ProgressWrite {
  id: string;
  attempt: number;
  progress?: TaskProgress;
  context?: JsonObject;
}

/** One state change. */
export interface TaskTransition {
  state: TaskStateName;
  attempt: number;
  /** ISO 8601. */
  time: string;
}

/** A task as recorded in PostgreSQL. */
export interface TaskRecord {
  /** UUIDv7. */
  id: string;
  type: string;
  queue: string;
  priority: number;
  state: TaskStateName;
  /** The input's `google.protobuf.Any` type URL and value bytes. */
  inputTypeUrl: string;
  input: Uint8Array;
  outputTypeUrl: string | null;
  output: Uint8Array | null;
  /** The error of every failed attempt, oldest first. */
  errors: AttemptError[];
  /** Current or last attempt; 0 before the first run. */
  attempt: number;
  maxAttempts: number;
  progress: TaskProgress | null;
  /** Per-attempt timeout; null: none. */
  timeoutMs: number | null;
  backoff: BackoffPolicy;
  idempotencyKey: string | null;
  workerId: string | null;
  createdAt: Date;
  /** When the task becomes runnable. */
  scheduledAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  transitions: TaskTransition[];
  /** Id of the API key that submitted the task; null when authentication was off. */
  submittedBy: string | null;
  /** Labels given at submission (`core/labels.ts`); `{}` when none. */
  labels: Record<string, string>;
  /**
   * The W3C `traceparent` the task was submitted with (version 00 form), sent to the worker of
   * each attempt (`Assignment.traceparent`); null: none. See the README's "Traces".
   */
  traceparent: string | null;
  /** The `tracestate` that came with `traceparent`; null: none. */
  tracestate: string | null;
  /** The tasks it depends on (`depends_on`), in the order given; `[]` when none. */
  parentIds: string[];
  /** How many tasks depend on it. */
  childrenCount: number;
  /** What it does when a parent FAILED or was CANCELLED. */
  onParentFailure: ParentFailurePolicyName;
  /** Its context (`ctx.context`): what its attempts saved, kept across retries; `{}` when none. */
  context: JsonObject;
  /** Its concurrency key (`SubmitRequest.concurrency_key`, `core/dispatch-limits.ts`); null: none. */
  concurrencyKey: string | null;
}

/**
 * The parents a submission names (`SubmitRequest.depends_on` and `depends_on_items`), before the
 * store resolves them (`store/queries/dependencies.ts`).
 */
export interface DependsOn {
  /** Ids of stored tasks, lower case, distinct. */
  taskIds: readonly string[];
  /** Indexes of earlier items of the same batch, distinct. */
  items: readonly number[];
  onParentFailure: ParentFailurePolicyName;
  /**
   * Only tasks submitted by this API key id may be parents (a client key depends on its own
   * tasks only; another key's task is "not found", as for GetStatus). @default any task
   */
  ownerScope?: string;
}

/** A task to insert. */
export interface NewTask {
  id: string;
  type: string;
  queue: string;
  priority: number;
  /**
   * QUEUED or SCHEDULED as the submission asks; the store makes a task with unfinished parents
   * WAITING, and one whose parent already failed (policy CANCEL) CANCELLED.
   */
  state: "QUEUED" | "SCHEDULED" | "WAITING" | "CANCELLED";
  inputTypeUrl: string;
  input: Uint8Array;
  maxAttempts: number;
  timeoutMs: number | null;
  backoff: BackoffPolicy;
  idempotencyKey: string | null;
  createdAt: Date;
  scheduledAt: Date;
  /** Id of the API key submitting the task (client keys see only their own). @default null: authentication off */
  submittedBy?: string | null;
  /** Labels, validated (`core/labels.ts`). @default none */
  labels?: Record<string, string>;
  /** The submission's W3C `traceparent` (`common/trace-context.ts`). @default null: none */
  traceparent?: string | null;
  /** The `tracestate` that came with `traceparent`. @default null: none */
  tracestate?: string | null;
  /** The parents it names; the store resolves them into the fields below. @default none */
  dependsOn?: DependsOn;
  /** Resolved by the store: the parents' ids, in order. @default none */
  parentIds?: string[];
  /** Resolved by the store: how many parents are unfinished. @default 0 */
  pendingParents?: number;
  /** Resolved by the store: how many items of the same batch depend on it. @default 0 */
  childrenCount?: number;
  /** @default "CANCEL" */
  onParentFailure?: ParentFailurePolicyName;
  /** Resolved by the store: the error of a task CANCELLED at submission (its parent had failed). @default none */
  errors?: AttemptError[];
  /** Resolved by the store: set for a task CANCELLED at submission. @default null */
  finishedAt?: Date | null;
  /** Its concurrency key, validated (`core/dispatch-limits.ts`). @default null: none */
  concurrencyKey?: string | null;
}

/** Defaults of a task type. */
export interface TaskTypeDefaults {
  queue: string | null;
  priority: number;
  timeoutMs: number | null;
  maxAttempts: number;
  backoff: BackoffPolicy;
  /**
   * Finished tasks of the type are deleted this long after they finish; null (or absent, in
   * rows written by older versions): the server's `--retain-finished` applies.
   */
  retentionMs?: number | null;
  /**
   * Dispatch limits declared with the type (`TaskDefaults.limits`); an operator's override
   * (`dispatch_limits`) takes precedence field by field. Absent or null: none declared.
   */
  limits?: LimitValues | null;
}

/** A task type of the catalog. */
export interface TaskTypeRecord {
  name: string;
  /** Full protobuf names, e.g. `google.protobuf.Struct`. */
  inputType: string;
  outputType: string;
  description: string;
  defaults: TaskTypeDefaults;
  /** A serialized `google.protobuf.FileDescriptorSet` holding both messages and their dependencies. */
  descriptors: Uint8Array;
  /**
   * Lower-case hex SHA-256 of `descriptors`: the types declared by one Hello share one set, stored
   * once, and a server resolves each set once (`descriptorSetHash` in `common/descriptors.ts`).
   */
  descriptorSet: string;
  updatedAt: Date;
}

/** A catalog entry without its descriptor bytes, as listings carry it (`TaskStore.listTaskTypes`). */
export type TaskTypeSummary = Omit<TaskTypeRecord, "descriptors">;

/** A connected (or once connected) worker process. */
export interface WorkerRecord {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  slots: number;
  types: string[];
  sdk: string;
  /** The server session holding its stream. */
  sessionId: string;
  connectedAt: Date;
  lastSeenAt: Date;
  disconnectedAt: Date | null;
  /** The server holding its stream (`ServerRecord.id`). */
  serverId: string;
  /** While the stream is open: taking tasks, or finishing what it holds. */
  state: "CONNECTED" | "DRAINING";
}

/** A server process of the fleet (`servers` table). */
export interface ServerRecord {
  /** Random per process start. */
  id: string;
  host: string;
  pid: number;
  version: string;
  /** host:port it listens on. */
  address: string;
  state: "SERVING" | "DRAINING";
  startedAt: Date;
  lastHeartbeatAt: Date;
  /** Worker streams it holds. */
  workerCount: number;
}

/** Settings an operator gave a queue. */
export interface QueueSettingsRecord {
  queue: string;
  /** When it was paused; null: dispatching. */
  pausedAt: Date | null;
  updatedAt: Date;
}
