/**
 * Turns a `SubmitRequest` into a task to insert: validation of every field, then the type's
 * defaults and the queue convention. Nothing is written for a request refused here.
 * Keep in line with the README's "API" section.
 */
import { concurrencyKeyProblem } from "../../core/dispatch-limits.js";
import { anyPack, StructSchema, timestampMs, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import { uuidv7 } from "uuidv7";
import { InvalidArgumentError } from "../../core/errors.js";
import {
  conventionalQueue,
  IDEMPOTENCY_KEY_MAX,
  MAX_ATTEMPTS_LIMIT,
  MAX_DURATION_MS,
  MAX_RETENTION_MS,
  MIN_RETENTION_MS,
  PRIORITY_MAX,
  PRIORITY_MIN,
  QUEUE_NAME,
  RETENTION_RANGE,
  TYPE_NAME,
} from "../../core/limits.js";
import type { DependsOn, NewTask, ParentFailurePolicyName } from "../../core/task-types.js";
import { ParentFailurePolicy } from "../../../gen/taskwire/v1/task_pb.js";
import { DEFAULTS } from "../../config/config.js";
import { validLabels } from "../../core/labels.js";
import type { SubmitRequest } from "../../../gen/taskwire/v1/task_service_pb.js";
import type { Catalog } from "../engine/catalog.js";
import { durationToMs } from "../convert.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The stored policy of each proto value (UNSPECIFIED is CANCEL). */
const PARENT_FAILURE_POLICY: Record<number, ParentFailurePolicyName> = {
  [ParentFailurePolicy.UNSPECIFIED]: "CANCEL",
  [ParentFailurePolicy.CANCEL]: "CANCEL",
  [ParentFailurePolicy.RUN]: "RUN",
};

/** Control characters (PostgreSQL cannot store NUL in text) and lone surrogates. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}]/u;

/** Refuses a Duration that is malformed (nanos out of range or of the wrong sign) or negative. */
function checkDurationForm(duration: Duration, field: string): void {
  const { seconds, nanos } = duration;
  const badNanos = nanos < -999_999_999 || nanos > 999_999_999 || (seconds > 0n && nanos < 0) || (seconds < 0n && nanos > 0);
  if (badNanos) throw InvalidArgumentError.field(field, "is not a valid google.protobuf.Duration (nanos out of range or of the wrong sign)");
  if (seconds < 0n || nanos < 0) throw InvalidArgumentError.field(field, "must not be negative");
}

/** Validates a duration field: non-negative (positive when `positive`) and at most 366 days. */
export function validDurationMs(duration: Duration, field: string, positive = false): number {
  checkDurationForm(duration, field);
  if (duration.seconds > BigInt(MAX_DURATION_MS / 1000)) throw InvalidArgumentError.field(field, "must be at most 366 days");
  const ms = durationToMs(duration);
  if (positive && ms <= 0) throw InvalidArgumentError.field(field, "must be at least 1 ms");
  return ms;
}

/** Validates a task type's retention: {@link MIN_RETENTION_MS} to {@link MAX_RETENTION_MS}. */
export function validRetentionMs(duration: Duration, field: string): number {
  checkDurationForm(duration, field);
  const ms = durationToMs(duration);
  if (duration.seconds > BigInt(MAX_RETENTION_MS / 1000) || ms < MIN_RETENTION_MS || ms > MAX_RETENTION_MS) {
    const got = duration.nanos === 0 ? `${duration.seconds}s` : `${ms}ms`;
    throw InvalidArgumentError.field(field, `must be ${RETENTION_RANGE}, got ${got}`);
  }
  return ms;
}

function validTimestampMs(timestamp: Timestamp, field: string, now: number): number {
  if (timestamp.nanos < 0 || timestamp.nanos > 999_999_999) {
    throw InvalidArgumentError.field(field, "is not a valid google.protobuf.Timestamp (nanos out of range)");
  }
  const ms = timestampMs(timestamp);
  if (!Number.isFinite(ms) || ms > now + MAX_DURATION_MS) throw InvalidArgumentError.field(field, "must be within 366 days from now");
  return ms;
}

/** Where a submission stands, for the fields that depend on it. */
export interface SubmissionContext {
  /** Most parents a task may have (`ServerConfig.maxParents`). @default DEFAULTS.maxParents */
  maxParents?: number;
  /** Its index in a SubmitBatch (`depends_on_items` may name earlier items); absent in Submit. */
  batchIndex?: number;
  /** A client key's id: parents must be its own tasks. @default any task */
  ownerScope?: string;
}

/**
 * Validates `depends_on`, `depends_on_items` and `on_parent_failure`: ids are UUIDs (duplicates
 * are one parent), items name earlier items of the batch (so no cycle can be built), at most
 * `maxParents` in all. @returns undefined when the task names no parent.
 */
export function validDependsOn(request: SubmitRequest, f: (name: string) => string, context: SubmissionContext): DependsOn | undefined {
  const policy = request.onParentFailure;
  if (!(policy in PARENT_FAILURE_POLICY)) {
    throw InvalidArgumentError.field(f("on_parent_failure"), `${policy} is not a ParentFailurePolicy`);
  }
  if (request.dependsOn.length === 0 && request.dependsOnItems.length === 0) return undefined;
  const taskIds = new Set<string>();
  for (const [i, id] of request.dependsOn.entries()) {
    if (!UUID.test(id)) throw InvalidArgumentError.field(f(`depends_on[${i}]`), `"${id.slice(0, 64)}" is not a task id (a UUID)`);
    taskIds.add(id.toLowerCase());
  }
  const items = new Set<number>();
  if (request.dependsOnItems.length > 0 && context.batchIndex === undefined) {
    throw InvalidArgumentError.field(f("depends_on_items"), "names items of a SubmitBatch; a Submit depends on stored tasks only (depends_on)");
  }
  for (const [i, item] of request.dependsOnItems.entries()) {
    if (!Number.isInteger(item) || item < 0 || item >= (context.batchIndex ?? 0)) {
      throw InvalidArgumentError.field(
        f(`depends_on_items[${i}]`),
        `must be the index of an earlier item of the batch (0 to ${(context.batchIndex ?? 0) - 1}), got ${item}: items may depend on earlier items only, so no cycle can be built`,
      );
    }
    items.add(item);
  }
  const maxParents = context.maxParents ?? DEFAULTS.maxParents;
  if (taskIds.size + items.size > maxParents) {
    throw InvalidArgumentError.field(f("depends_on"), `names ${taskIds.size + items.size} parents; at most ${maxParents} are allowed (--max-parents)`);
  }
  return {
    taskIds: [...taskIds],
    items: [...items],
    onParentFailure: PARENT_FAILURE_POLICY[policy] ?? "CANCEL",
    ...(context.ownerScope === undefined ? {} : { ownerScope: context.ownerScope }),
  };
}

/**
 * Validates a submission and builds the task to insert.
 * @param field prefix of field names in errors (e.g. `tasks[3]` in a batch).
 */
export async function buildNewTask(catalog: Catalog, request: SubmitRequest, now: Date, field = "", context: SubmissionContext = {}): Promise<NewTask> {
  const f = (name: string) => (field ? `${field}.${name}` : name);
  const dependsOn = validDependsOn(request, f, context);
  if (!TYPE_NAME.test(request.type)) {
    throw InvalidArgumentError.field(f("type"), request.type === "" ? "is required" : `"${request.type}" is not a valid task type name`);
  }
  const entry = await catalog.get(request.type);
  const defaults = entry.record.defaults;

  let input = request.input;
  if (!input) {
    if (entry.record.inputType !== StructSchema.typeName) {
      throw InvalidArgumentError.field(f("input"), `is required: a google.protobuf.Any holding ${entry.record.inputType}`);
    }
    input = anyPack(StructSchema, create(StructSchema));
  }
  catalog.validateInput(entry, input, f("input"));

  const priority = request.priority ?? defaults.priority;
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw InvalidArgumentError.field(f("priority"), `must be from ${PRIORITY_MIN} to ${PRIORITY_MAX}, got ${priority}`);
  }
  if (request.queue !== "" && !QUEUE_NAME.test(request.queue)) {
    throw InvalidArgumentError.field(f("queue"), `"${request.queue}" is not a valid queue name (letters, digits, _ - ., at most 128)`);
  }
  const queue = request.queue || defaults.queue || conventionalQueue(priority);

  let runAt = now.getTime();
  if (request.schedule.case === "runAt") runAt = Math.max(runAt, validTimestampMs(request.schedule.value, f("run_at"), runAt));
  if (request.schedule.case === "delay") runAt += validDurationMs(request.schedule.value, f("delay"));

  const timeoutMs = request.timeout ? validDurationMs(request.timeout, f("timeout"), true) : defaults.timeoutMs;
  const maxAttempts = request.maxAttempts ?? defaults.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
    throw InvalidArgumentError.field(f("max_attempts"), `must be from 1 to ${MAX_ATTEMPTS_LIMIT}, got ${maxAttempts}`);
  }
  if (request.idempotencyKey.length > IDEMPOTENCY_KEY_MAX) {
    throw InvalidArgumentError.field(f("idempotency_key"), `must be at most ${IDEMPOTENCY_KEY_MAX} characters`);
  }
  if (UNPRINTABLE.test(request.idempotencyKey)) {
    throw InvalidArgumentError.field(f("idempotency_key"), "must be printable: no control characters");
  }
  const keyProblem = concurrencyKeyProblem(request.concurrencyKey);
  if (keyProblem !== undefined) throw InvalidArgumentError.field(f("concurrency_key"), keyProblem);

  return {
    id: uuidv7(),
    type: request.type,
    queue,
    priority,
    state: runAt > now.getTime() ? "SCHEDULED" : "QUEUED",
    inputTypeUrl: input.typeUrl,
    input: input.value,
    maxAttempts,
    timeoutMs,
    backoff: defaults.backoff,
    idempotencyKey: request.idempotencyKey === "" ? null : request.idempotencyKey,
    createdAt: now,
    scheduledAt: new Date(runAt),
    labels: validLabels(request.labels, f("labels")),
    concurrencyKey: request.concurrencyKey === "" ? null : request.concurrencyKey,
    ...(dependsOn === undefined ? {} : { dependsOn }),
  };
}
