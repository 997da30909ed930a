/**
 * The one Drizzle schema of Taskwire's PostgreSQL store. `drizzle-kit generate` turns it into the
 * SQL migrations of `drizzle/` (never hand-written, never edited once shipped), which
 * `migrate.ts` applies.
 *
 * Tables are declared without a schema (`pgTable`, not `pgSchema`) and nothing here makes
 * drizzle-kit write `"public".` into the SQL (no pg enums, no foreign keys): every connection
 * sets `search_path` to the configured schema, so the same migrations build the tables in any
 * schema, one per test.
 *
 * Column names are snake_case in SQL and camelCase in TypeScript. Besides types, it imports only
 * the table of task states (`core/task-states.ts`, which imports nothing) and the types of
 * `core/schedule-types.ts`: drizzle-kit loads this file on its own.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  primaryKey,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { ALL_STATES, INDEXED_STATE_LIST, sqlStateList, TERMINAL_STATE_LIST, WAITING_STATE_LIST } from "../core/task-states.js";
import type { TaskStateName } from "../core/task-states.js";
import type {
  CatchUpPolicyName,
  OverlapPolicyName,
  ScheduleSourceName,
  ScheduleSpecRecord,
  TaskTemplateOptions,
} from "../core/schedule-types.js";
import type {
  AttemptError,
  BackoffPolicy,
  ParentFailurePolicyName,
  TaskProgress,
  TaskTransition,
  TaskTypeDefaults,
} from "../core/task-types.js";

/**
 * `bytea` as a plain `Uint8Array`. postgres.js reads a `Buffer` (PGlite a `Uint8Array`); both are
 * copied into a fresh `Uint8Array` so that records never alias a driver's pooled buffer.
 */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array | string }>({
  dataType() {
    return "bytea";
  },
  toDriver(value) {
    // A Buffer view (no copy): postgres.js infers `bytea` from Buffer, PGlite takes any Uint8Array.
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  },
  fromDriver(value) {
    if (typeof value === "string") {
      // Text format (`\x` + hex), in case a driver hands bytea over undecoded.
      return new Uint8Array(Buffer.from(value.startsWith("\\x") ? value.slice(2) : value, "hex"));
    }
    return new Uint8Array(value);
  },
});

/** Timestamps are `timestamptz(3)`: millisecond precision, as JavaScript's `Date`. */
function timestamptz(name: string) {
  return timestamp(name, { withTimezone: true, precision: 3, mode: "date" });
}

/** The states a task row may hold (checked by a constraint; see `TaskStateName`). */
const STATE_CHECK = sql.raw(`state in ${sqlStateList(ALL_STATES)}`);

/**
 * Every task ever submitted, the source of truth the broker's index is rebuilt from.
 *
 * - `id` is a UUIDv7 made by the caller, so `id` order is submission order: listing newest
 *   first and paging are both `order by id`.
 * - `errors` keeps the error of every attempt that ended without an output, oldest first;
 *   `transitions` every state change with its attempt and time.
 * - `updated_at` is the time of the last state change (progress does not move it).
 */
export const tasks = pgTable(
  "tasks",
  {
    id: uuid("id").primaryKey(),
    type: text("type").notNull(),
    queue: text("queue").notNull(),
    priority: integer("priority").notNull(),
    state: text("state").$type<TaskStateName>().notNull(),
    inputTypeUrl: text("input_type_url").notNull(),
    input: bytea("input").notNull(),
    outputTypeUrl: text("output_type_url"),
    output: bytea("output"),
    errors: jsonb("errors").$type<AttemptError[]>().notNull().default(sql`'[]'::jsonb`),
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    progress: jsonb("progress").$type<TaskProgress>(),
    // bigint: timeouts up to a year (MAX_DURATION_MS) do not fit an int4 of milliseconds.
    timeoutMs: bigint("timeout_ms", { mode: "number" }),
    backoff: jsonb("backoff").$type<BackoffPolicy>().notNull(),
    idempotencyKey: text("idempotency_key").unique("tasks_idempotency_key_unique"),
    workerId: text("worker_id"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    scheduledAt: timestamptz("scheduled_at").notNull(),
    startedAt: timestamptz("started_at"),
    finishedAt: timestamptz("finished_at"),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
    transitions: jsonb("transitions").$type<TaskTransition[]>().notNull().default(sql`'[]'::jsonb`),
    /** Id of the API key that submitted the task; null when authentication was off (issue 3: access control). */
    submittedBy: text("submitted_by"),
    /** Labels (`core/labels.ts`): at most 32 short strings; a schedule's fires carry `schedule`. */
    labels: jsonb("labels").$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    /** W3C trace context of the submission (`traceparent`, version 00), sent to the worker of each attempt; null: none (issue 21). */
    traceparent: text("traceparent"),
    /** The `tracestate` that came with `traceparent`; null: none. */
    tracestate: text("tracestate"),
    /** The tasks this one depends on (`depends_on`), in the order given; null: none (`queries/dependencies.ts`). */
    parentIds: uuid("parent_ids").array(),
    /** How many of `parent_ids` have not finished yet: the task is WAITING while it is above 0. */
    pendingParents: integer("pending_parents").notNull().default(0),
    /** How many tasks depend on this one: the outcome path looks for children only when it is above 0. */
    childrenCount: integer("children_count").notNull().default(0),
    /** What a WAITING task does when a parent FAILED or was CANCELLED. */
    onParentFailure: text("on_parent_failure").$type<ParentFailurePolicyName>().notNull().default("CANCEL"),
    /**
     * The task's context (`ctx.context` in the worker SDK): a JSON object its attempts set, kept
     * across retries, bounded by `--max-context-bytes`; saved with progress.
     */
    context: jsonb("context").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /**
     * The task's concurrency key (a tenant, a repository): per-key limits and fairness count the
     * tasks of one key (`core/limits.ts`, README "Limits and fairness"); null: none.
     */
    concurrencyKey: text("concurrency_key"),
    /** Lines of `task_logs` stored for the task (bounded by `--max-task-log-lines`). */
    logLines: integer("log_lines").notNull().default(0),
    /** Bytes of message and fields stored in `task_logs` for the task (bounded by `--max-task-log-bytes`). */
    logBytes: bigint("log_bytes", { mode: "number" }).notNull().default(0),
    /** Log lines not stored because the task was at one of its bounds. */
    logsDropped: integer("logs_dropped").notNull().default(0),
  },
  (table) => [
    check("tasks_state_check", STATE_CHECK),
    // listTasks: newest first within one state, type or queue (a b-tree reads backwards too).
    index("tasks_state_id_idx").on(table.state, table.id),
    index("tasks_type_id_idx").on(table.type, table.id),
    index("tasks_queue_id_idx").on(table.queue, table.id),
    // listTasks of a client key: its own tasks, newest first; keys-off deployments leave it empty.
    index("tasks_submitted_by_id_idx")
      .on(table.submittedBy, table.id)
      .where(sql`submitted_by is not null`),
    // listIndexable: only the tasks the broker indexes, which stay few while finished ones pile up.
    index("tasks_unfinished_id_idx")
      .on(table.id)
      .where(sql.raw(`state in ${sqlStateList(INDEXED_STATE_LIST)}`)),
    // Retention, DeleteTasks and the per-queue figures of the last hour: finished tasks by the
    // time they finished. Partial: unfinished tasks (the hot rows) are not in it.
    index("tasks_finished_at_idx")
      .on(table.finishedAt)
      .where(sql.raw(`state in ${sqlStateList(TERMINAL_STATE_LIST)}`)),
    // listTasks by labels (`labels @> {...}`): jsonb_path_ops keeps one small entry per label.
    index("tasks_labels_idx").using("gin", sql`${table.labels} jsonb_path_ops`),
    // The children of a task (release, ListTasks by parent): dependent tasks only, so that the
    // many tasks without parents cost it nothing.
    index("tasks_parent_ids_idx")
      .using("gin", table.parentIds)
      .where(sql`parent_ids is not null`),
    // The reconciler's look at dependent tasks released lately (by their parents' outcome): their
    // ids are as old as their submission, so its windows of recent ids would not reach them.
    // Partial: only released tasks still waiting for a slot, a handful.
    index("tasks_released_idx")
      .on(table.updatedAt)
      .where(sql.raw(`parent_ids is not null and state in ${sqlStateList(WAITING_STATE_LIST)}`)),
  ],
);

/**
 * The log lines of tasks (`ctx.log`, `LogReport`), each with the attempt, level, message,
 * structured fields and the worker's time. `id` orders lines of one task as they were received
 * and is the cursor of `GetTaskLogs`.
 *
 * Deleted with their task, in the same transaction (`queries/delete-finished.ts`, the one
 * delete of tasks: retention and DeleteTasks). Not by a foreign key: drizzle-kit writes a foreign key's
 * target as `"public"."tasks"`, which would tie the migrations to one schema (see the top of
 * this file). Lines are only inserted for a task row that exists (`queries/append-logs.ts`
 * joins `tasks` and locks the row), so none outlives its task.
 */
export const taskLogs = pgTable(
  "task_logs",
  {
    id: bigint("id", { mode: "bigint" }).primaryKey().generatedAlwaysAsIdentity(),
    taskId: uuid("task_id").notNull(),
    attempt: integer("attempt").notNull(),
    level: text("level").$type<"debug" | "info" | "warn" | "error">().notNull(),
    message: text("message").notNull(),
    /** Structured fields of the line (a JSON object); null: none. */
    fields: jsonb("fields").$type<Record<string, unknown>>(),
    /** When the worker wrote the line (the server's receive time when the worker sent none). */
    time: timestamptz("time").notNull(),
  },
  (table) => [
    check("task_logs_level_check", sql`level in ('debug', 'info', 'warn', 'error')`),
    // GetTaskLogs and StreamTaskLogs: one task's lines in order, from a cursor; the cascade's delete.
    index("task_logs_task_id_id_idx").on(table.taskId, table.id),
  ],
);

/** The catalog of task types, as last declared by a worker (last declaration wins). */
export const taskTypes = pgTable("task_types", {
  name: text("name").primaryKey(),
  /** Full protobuf name of the input message. */
  inputType: text("input_type").notNull(),
  /** Full protobuf name of the output message. */
  outputType: text("output_type").notNull(),
  description: text("description").notNull().default(""),
  defaults: jsonb("defaults").$type<TaskTypeDefaults>().notNull(),
  /**
   * The serialized `google.protobuf.FileDescriptorSet` of rows declared before descriptor sets
   * had their own table (migration 0003); null since: see `descriptor_set`. A row keeps it until
   * its type is declared again.
   */
  descriptors: bytea("descriptors"),
  /** The `descriptor_sets.hash` of the set holding both messages; null in rows of older versions (see `descriptors`). */
  descriptorSet: text("descriptor_set"),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});

/**
 * The `FileDescriptorSet`s workers declared their types with, each stored once, by the SHA-256 of
 * its bytes: the types of one Hello share one set (a 1 MiB set declared with 1,000 types is one
 * row, not 1,000 copies), and so do the Hellos of every replica of a worker. Catalog listings
 * carry only the hash; a server reads a set it has not resolved yet, once.
 */
export const descriptorSets = pgTable("descriptor_sets", {
  /** Lower-case hex SHA-256 of `descriptors`. */
  hash: text("hash").primaryKey(),
  descriptors: bytea("descriptors").notNull(),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
});

/** Worker processes, connected now or once; `disconnected_at` is null while the stream is open. */
export const workers = pgTable("workers", {
  id: text("id").primaryKey(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  /** Queues in the order the worker serves them. */
  queues: text("queues").array().notNull(),
  slots: integer("slots").notNull(),
  types: text("types").array().notNull(),
  sdk: text("sdk").notNull(),
  /** The server session holding the worker's stream. */
  sessionId: text("session_id").notNull(),
  connectedAt: timestamptz("connected_at").notNull(),
  lastSeenAt: timestamptz("last_seen_at").notNull(),
  disconnectedAt: timestamptz("disconnected_at"),
  /** The server holding the stream (its `servers.id`); empty for rows of older versions. */
  serverId: text("server_id").notNull().default(""),
  /** `CONNECTED` or `DRAINING` while the stream is open (see `WorkerState` in the proto). */
  state: text("state").$type<"CONNECTED" | "DRAINING">().notNull().default("CONNECTED"),
  /**
   * The principal the worker id is bound to (`key:<id>` or `group:<name>`, `auth/caller.ts`): the
   * first key that connected with it; another key is refused the id. Null: bound to none
   * (authentication off, rows of older versions); the next keyed connection binds it.
   */
  owner: text("owner"),
});

/**
 * Who owns each task type: the principal (`key:<id>` or `group:<name>`) of the first key that
 * declared it; another key's declaration is refused. A row of its own, beside the catalog, so
 * that the claim is one guarded upsert and the catalog's rows stay the declarations. A type
 * without a row (declared with authentication off, or before owners existed) is claimed by the
 * next keyed declaration.
 */
export const taskTypeOwners = pgTable("task_type_owners", {
  name: text("name").primaryKey(),
  /** Null: no owner (an operator reset the type); the next keyed declaration takes it. */
  owner: text("owner"),
  /**
   * Set by an operator's reset: the next declaration may change the type's input and output
   * messages in any way (otherwise an incompatible change is refused); cleared by it.
   */
  contractReset: boolean("contract_reset").notNull().default(false),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});

/**
 * Server processes of the fleet, each registered at start and heart-beating; a server silent for
 * three heartbeat intervals is not listed, and its row is pruned later.
 */
export const servers = pgTable("servers", {
  /** Random per process start. */
  id: text("id").primaryKey(),
  host: text("host").notNull(),
  pid: integer("pid").notNull(),
  version: text("version").notNull(),
  /** host:port it listens on. */
  address: text("address").notNull(),
  state: text("state").$type<"SERVING" | "DRAINING">().notNull(),
  startedAt: timestamptz("started_at").notNull(),
  lastHeartbeatAt: timestamptz("last_heartbeat_at").notNull(),
  workerCount: integer("worker_count").notNull().default(0),
});

/**
 * Per-queue settings an operator changed. A queue has a row only once it was paused (or, later,
 * given limits); no row means the defaults: not paused.
 */
export const queueSettings = pgTable("queue_settings", {
  queue: text("queue").primaryKey(),
  /** When the queue was paused; null: dispatching. */
  pausedAt: timestamptz("paused_at"),
  updatedAt: timestamptz("updated_at").notNull().defaultNow(),
});

/**
 * Dispatch limits an operator set (AdminService.SetLimit) on a task type or a queue. A column left
 * null inherits: a type's from the limits its workers declared with the type (`TaskDefaults`),
 * else none; 0 is "no limit", set explicitly. Every server reads the whole (small) table every
 * second and hands the effective limits to its broker (`server/duties/limits-refresh.ts`).
 */
export const dispatchLimits = pgTable(
  "dispatch_limits",
  {
    /** `"type"` or `"queue"`. */
    scope: text("scope").$type<"type" | "queue">().notNull(),
    /** The type's or the queue's name. */
    name: text("name").notNull(),
    /** Most tasks running at once across the fleet. */
    concurrency: integer("concurrency"),
    /** Most tasks of one concurrency key running at once. */
    perKey: integer("per_key"),
    /** Rate of the type or queue as a whole: at most `rate_count` starts per `rate_interval_ms` (both set or both null; 0 and 0: none). */
    rateCount: integer("rate_count"),
    rateIntervalMs: bigint("rate_interval_ms", { mode: "number" }),
    /** Rate of each concurrency key, as `rate_count` / `rate_interval_ms`. */
    keyRateCount: integer("key_rate_count"),
    keyRateIntervalMs: bigint("key_rate_interval_ms", { mode: "number" }),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.scope, table.name] }), check("dispatch_limits_scope_check", sql`scope in ('type', 'queue')`)],
);

/**
 * Recurring tasks (ScheduleService). `next_fire_at` is the next fire time, null while paused or
 * once no fire time is left; the scheduler duty reads the due ones through a partial index and
 * fires each in one transaction with the advance of `next_fire_at`, fenced by `revision`.
 */
export const schedules = pgTable(
  "schedules",
  {
    id: text("id").primaryKey(),
    spec: jsonb("spec").$type<ScheduleSpecRecord>().notNull(),
    /** The template: type and input as columns, the rest (`TaskTemplateOptions`) as JSON. */
    type: text("type").notNull(),
    inputTypeUrl: text("input_type_url").notNull(),
    input: bytea("input").notNull(),
    options: jsonb("options").$type<TaskTemplateOptions>().notNull(),
    overlap: text("overlap").$type<OverlapPolicyName>().notNull(),
    catchUp: text("catch_up").$type<CatchUpPolicyName>().notNull(),
    catchUpLimit: integer("catch_up_limit").notNull(),
    description: text("description").notNull().default(""),
    pausedAt: timestamptz("paused_at"),
    nextFireAt: timestamptz("next_fire_at"),
    lastFireAt: timestamptz("last_fire_at"),
    lastTaskId: uuid("last_task_id"),
    lastError: text("last_error"),
    source: text("source").$type<ScheduleSourceName>().notNull(),
    declaredHash: text("declared_hash"),
    revision: integer("revision").notNull().default(1),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
    updatedAt: timestamptz("updated_at").notNull().defaultNow(),
  },
  (table) => [
    // The due schedules, soonest first; paused and ended ones are not in it.
    index("schedules_due_idx").on(table.nextFireAt).where(sql`next_fire_at is not null`),
    index("schedules_type_id_idx").on(table.type, table.id),
  ],
);

/**
 * The fleet's activity per minute, for `AdminService.GetOverview`: every server adds its counts
 * to the minute's row (`queries/minute-stats.ts`), so the last hour is at most 60 rows however
 * many tasks are stored. `wait_buckets` holds one count per bucket of the queue-wait histogram
 * (`WAIT_BUCKETS_MS` in `server/observability/minute-counters.ts`, then one for longer waits).
 * Rows older than a day are pruned.
 */
export const taskMinuteStats = pgTable("task_minute_stats", {
  /** The minute's start. */
  minute: timestamptz("minute").primaryKey(),
  succeeded: integer("succeeded").notNull().default(0),
  failed: integer("failed").notNull().default(0),
  cancelled: integer("cancelled").notNull().default(0),
  /** Attempts started. */
  started: integer("started").notNull().default(0),
  waitBuckets: integer("wait_buckets").array().notNull(),
});

/** A `tasks` row as Drizzle reads it. */
export type TaskRow = typeof tasks.$inferSelect;
/** A `task_logs` row as Drizzle reads it. */
export type TaskLogRow = typeof taskLogs.$inferSelect;
/** A `task_types` row as Drizzle reads it. */
export type TaskTypeRow = typeof taskTypes.$inferSelect;
/** A `descriptor_sets` row as Drizzle reads it. */
export type DescriptorSetRow = typeof descriptorSets.$inferSelect;
/** A `task_type_owners` row as Drizzle reads it. */
export type TaskTypeOwnerRow = typeof taskTypeOwners.$inferSelect;
/** A `workers` row as Drizzle reads it. */
export type WorkerRow = typeof workers.$inferSelect;
/** A `servers` row as Drizzle reads it. */
export type ServerRow = typeof servers.$inferSelect;
/** A `dispatch_limits` row as Drizzle reads it. */
export type DispatchLimitRow = typeof dispatchLimits.$inferSelect;
/** A `queue_settings` row as Drizzle reads it. */
export type QueueSettingsRow = typeof queueSettings.$inferSelect;
/** A `task_minute_stats` row as Drizzle reads it. */
export type TaskMinuteStatsRow = typeof taskMinuteStats.$inferSelect;
/** A `schedules` row as Drizzle reads it. */
export type ScheduleRow = typeof schedules.$inferSelect;
