/**
 * The worker's `Hello`: who it is, what it serves, and the descriptors of its messages. Task
 * definitions are validated here, once, so a typo in a timeout fails the `Worker` constructor
 * instead of every submission.
 */
import { buildDispatchLimits, type LimitInput } from "../common/dispatch-limits-message.js";
import type { DispatchLimits } from "../../gen/taskwire/v1/task_pb.js";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import { BackoffSchema, TaskDefaultsSchema, type Backoff } from "../../gen/taskwire/v1/task_pb.js";
import {
  DeclaredScheduleSchema,
  HelloSchema,
  TaskTypeDeclarationSchema,
  type Hello,
  type TaskTypeDeclaration,
} from "../../gen/taskwire/v1/worker_service_pb.js";
import { descriptorSetOf } from "../common/descriptors.js";
import { packValue } from "../common/any.js";
import { scheduleDefinitionOf } from "../common/schedule-options.js";
import type { BackoffOptions, TaskDefinition } from "../common/task-definition.js";
import { parseDuration } from "../config/config.js";
import {
  MAX_ATTEMPTS_LIMIT,
  MAX_DURATION_MS,
  MAX_RETENTION_MS,
  MIN_RETENTION_MS,
  PRIORITY_MAX,
  PRIORITY_MIN,
  QUEUE_NAME,
  RETENTION_RANGE,
  TYPE_NAME,
} from "../core/limits.js";
import { WorkerConfigError } from "./errors.js";
import { SDK_NAME } from "./version.js";

/** The queues of the naming convention, in the order a worker serves them. */
export const CONVENTIONAL_QUEUES: readonly string[] = ["high_priority", "default", "low_priority"];

/** Retries after the first attempt when a task gives none (3 attempts in all). */
export const DEFAULT_RETRIES = 2;

/** Back-off defaults, as documented on `BackoffOptions`. */
const DEFAULT_BACKOFF = { initialMs: 1_000, maxMs: 5 * 60_000, multiplier: 2, jitter: 0.2 };

function durationMsOf(value: number | string, what: string): number {
  const ms = typeof value === "number" ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0 || ms > MAX_DURATION_MS) {
    throw new WorkerConfigError(`${what} must be a positive duration (ms, or like "30s", "5m"), got ${JSON.stringify(value)}`);
  }
  return ms;
}

function duration(value: number | string, what: string): Duration {
  return durationFromMs(durationMsOf(value, what));
}

function retentionOf(value: number | string, what: string): Duration {
  const ms = typeof value === "number" ? value : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms < MIN_RETENTION_MS || ms > MAX_RETENTION_MS) {
    throw new WorkerConfigError(`${what} must be a duration ${RETENTION_RANGE} (ms, or like "12h", "30d"), got ${JSON.stringify(value)}`);
  }
  return durationFromMs(Math.round(ms));
}

function backoffOf(options: BackoffOptions | undefined, what: string): Backoff {
  const multiplier = options?.multiplier ?? DEFAULT_BACKOFF.multiplier;
  const jitter = options?.jitter ?? DEFAULT_BACKOFF.jitter;
  if (!Number.isFinite(multiplier) || multiplier < 1) {
    throw new WorkerConfigError(`${what}.multiplier must be at least 1, got ${multiplier}`);
  }
  if (!Number.isFinite(jitter) || jitter < 0 || jitter > 1) {
    throw new WorkerConfigError(`${what}.jitter must be from 0 to 1, got ${jitter}`);
  }
  return create(BackoffSchema, {
    initial: duration(options?.initial ?? DEFAULT_BACKOFF.initialMs, `${what}.initial`),
    max: duration(options?.max ?? DEFAULT_BACKOFF.maxMs, `${what}.max`),
    multiplier,
    jitter,
  });
}

/** A definition's limits as the message; a malformed rate is the definition's error. */
function limitsOf(limits: LimitInput, what: string): DispatchLimits {
  try {
    return buildDispatchLimits(limits);
  } catch (error) {
    throw new WorkerConfigError(`${what}: limits: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The declaration of one task type, with its defaults filled in.
 * @throws WorkerConfigError when the definition has a bad name, queue, priority, timeout, retries, backoff, retention or schedule.
 */
export function taskDeclaration(definition: TaskDefinition): TaskTypeDeclaration {
  const { spec } = definition;
  const what = `task "${spec.name}"`;
  if (!TYPE_NAME.test(spec.name)) throw new WorkerConfigError(`${what}: the name must match ${TYPE_NAME}`);
  if (spec.queue !== undefined && !QUEUE_NAME.test(spec.queue)) {
    throw new WorkerConfigError(`${what}: queue must match ${QUEUE_NAME}, got "${spec.queue}"`);
  }
  const priority = spec.priority ?? 0;
  if (!Number.isInteger(priority) || priority < PRIORITY_MIN || priority > PRIORITY_MAX) {
    throw new WorkerConfigError(`${what}: priority must be an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, got ${priority}`);
  }
  const retries = spec.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0 || retries + 1 > MAX_ATTEMPTS_LIMIT) {
    throw new WorkerConfigError(`${what}: retries must be an integer from 0 to ${MAX_ATTEMPTS_LIMIT - 1}, got ${retries}`);
  }
  const scheduleIds = new Set<string>();
  const schedules = (spec.schedules ?? []).map((schedule) => {
    const id = schedule.id ?? spec.name;
    if (scheduleIds.has(id)) throw new WorkerConfigError(`${what}: schedule id "${id}" is used twice; give each schedule its own id`);
    scheduleIds.add(id);
    try {
      const input = schedule.input === undefined ? undefined : packValue(spec.input, schedule.input);
      return create(DeclaredScheduleSchema, { id, definition: scheduleDefinitionOf(schedule, spec.name, input) });
    } catch (error) {
      throw new WorkerConfigError(`${what}: schedule "${id}": ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  return create(TaskTypeDeclarationSchema, {
    name: spec.name,
    schedules,
    inputType: spec.input.typeName,
    outputType: spec.output.typeName,
    description: spec.description ?? "",
    defaults: create(TaskDefaultsSchema, {
      queue: spec.queue ?? "",
      priority,
      timeout: spec.timeout === undefined ? undefined : duration(spec.timeout, `${what}: timeout`),
      maxAttempts: retries + 1,
      backoff: backoffOf(spec.backoff, `${what}: backoff`),
      retention: spec.retention === undefined ? undefined : retentionOf(spec.retention, `${what}: retention`),
      limits: spec.limits === undefined ? undefined : limitsOf(spec.limits, what),
    }),
  });
}

/**
 * The queues a worker serves when none are given: the default queues of its tasks in the order
 * the tasks are listed, followed by the conventional `high_priority, default, low_priority` when
 * any task has no default queue (its submissions go to one of those by priority).
 */
export function defaultQueues(tasks: readonly TaskDefinition[]): string[] {
  const queues: string[] = [];
  let conventional = tasks.length === 0;
  for (const task of tasks) {
    if (task.spec.queue === undefined) conventional = true;
    else if (!queues.includes(task.spec.queue)) queues.push(task.spec.queue);
  }
  if (conventional) for (const queue of CONVENTIONAL_QUEUES) if (!queues.includes(queue)) queues.push(queue);
  return queues;
}

/** What a Hello says about the worker itself. */
export interface HelloIdentity {
  workerId: string;
  host: string;
  pid: number;
  queues: readonly string[];
  slots: number;
  burst: boolean;
}

/** The first message of every stream; `declarations` from {@link taskDeclaration}. */
export function buildHello(
  identity: HelloIdentity,
  tasks: readonly TaskDefinition[],
  declarations: readonly TaskTypeDeclaration[],
): Hello {
  return create(HelloSchema, {
    workerId: identity.workerId,
    host: identity.host,
    pid: identity.pid,
    queues: [...identity.queues],
    slots: identity.slots,
    types: [...declarations],
    descriptors: descriptorSetOf(tasks.flatMap((task) => [task.spec.input, task.spec.output])),
    sdk: SDK_NAME,
    burst: identity.burst,
  });
}
