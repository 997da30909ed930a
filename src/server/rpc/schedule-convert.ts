/**
 * Schedules between the API's messages and the stored records: a `ScheduleDefinition` checked
 * field by field into a {@link ScheduleDefinitionRecord} (what needs the catalog — the type and
 * its input — is checked by the scheduler), and a stored schedule as the API's `Schedule`.
 * Keep in line with `proto/taskwire/v1/schedule.proto` and the README's "Schedules".
 */
import { create } from "@bufbuild/protobuf";
import { anyPack, durationFromMs, StructSchema, timestampFromDate, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  CatchUpPolicy,
  OverlapPolicy,
  ScheduleSchema,
  ScheduleSource,
  type Schedule,
  type ScheduleDefinition,
} from "../../../gen/taskwire/v1/schedule_pb.js";
import type { Hello } from "../../../gen/taskwire/v1/worker_service_pb.js";
import { fireTimes, nextFireTimes } from "../../common/schedule-times.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { validLabels } from "../../core/labels.js";
import { MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN, QUEUE_NAME, TYPE_NAME } from "../../core/limits.js";
import {
  DEFAULT_CATCH_UP,
  DEFAULT_CATCH_UP_LIMIT,
  DEFAULT_OVERLAP,
  MAX_CATCH_UP_LIMIT,
  SCHEDULE_ID,
  type CatchUpPolicyName,
  type OverlapPolicyName,
  type ScheduleDefinitionRecord,
  type ScheduleSpecRecord,
  type ScheduleView,
} from "../../core/schedule-types.js";
import { durationToMs, stateToProto } from "../convert.js";
import { validDurationMs } from "./submission.js";

/** Longest description. */
const DESCRIPTION_MAX = 1000;

const OVERLAP: Readonly<Record<OverlapPolicyName, OverlapPolicy>> = {
  ALLOW: OverlapPolicy.ALLOW,
  SKIP: OverlapPolicy.SKIP,
  CANCEL_PREVIOUS: OverlapPolicy.CANCEL_PREVIOUS,
};
const CATCH_UP: Readonly<Record<CatchUpPolicyName, CatchUpPolicy>> = {
  SKIP_MISSED: CatchUpPolicy.SKIP_MISSED,
  RUN_ONCE: CatchUpPolicy.RUN_ONCE,
  RUN_ALL: CatchUpPolicy.RUN_ALL,
};

function nameOf<N extends string, V extends number>(table: Readonly<Record<N, V>>, value: V, fallback: N, field: string): N {
  if (value === 0) return fallback;
  const found = (Object.keys(table) as N[]).find((name) => table[name] === value);
  if (found === undefined) throw InvalidArgumentError.field(field, `${value} is not one of its values`);
  return found;
}

/** Validates a schedule id. */
export function validScheduleId(id: string, field = "id"): string {
  if (!SCHEDULE_ID.test(id)) {
    throw InvalidArgumentError.field(field, id === "" ? "is required" : "must be 1 to 128 letters, digits and _ . : -");
  }
  return id;
}

function timestampOf(timestamp: Timestamp, field: string): number {
  if (timestamp.nanos < 0 || timestamp.nanos > 999_999_999) throw InvalidArgumentError.field(field, "is not a valid google.protobuf.Timestamp");
  const ms = timestampMs(timestamp);
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw InvalidArgumentError.field(field, "is out of range");
  return ms;
}

/**
 * A definition from the API (or a worker's declaration), checked field by field: spec, template
 * options, policies. `type` is the declaring type for a worker's schedules.
 * @param field the definition's field in errors, e.g. `schedule` or `hello.types[0].schedules[1].definition`.
 * @throws InvalidArgumentError naming the field.
 */
export function definitionFromProto(definition: ScheduleDefinition | undefined, field: string, type?: string): ScheduleDefinitionRecord {
  const f = (name: string) => `${field}.${name}`;
  if (!definition) throw InvalidArgumentError.field(field, "is required");
  const s = definition.spec;
  if (!s) throw InvalidArgumentError.field(f("spec"), "is required");
  const spec: ScheduleSpecRecord = { timeZone: s.timeZone || "UTC", jitterMs: 0 };
  if (s.kind.case === "cron") spec.cron = s.kind.value.trim();
  if (s.kind.case === "interval") spec.intervalMs = durationToMs(s.kind.value);
  if (s.startTime) spec.startMs = timestampOf(s.startTime, f("spec.start_time"));
  if (s.endTime) spec.endMs = timestampOf(s.endTime, f("spec.end_time"));
  if (s.jitter) spec.jitterMs = validDurationMs(s.jitter, f("spec.jitter"));
  if (s.kind.case === "interval") validDurationMs(s.kind.value, f("spec.interval"), true);
  fireTimes(spec, f("spec"));

  const t = definition.task;
  if (!t) throw InvalidArgumentError.field(f("task"), "is required");
  const taskType = t.type === "" && type !== undefined ? type : t.type;
  if (type !== undefined && taskType !== type) throw InvalidArgumentError.field(f("task.type"), `must be empty or "${type}", the declaring type`);
  if (!TYPE_NAME.test(taskType)) {
    throw InvalidArgumentError.field(f("task.type"), taskType === "" ? "is required" : `"${taskType}" is not a valid task type name`);
  }
  if (t.queue !== "" && !QUEUE_NAME.test(t.queue)) throw InvalidArgumentError.field(f("task.queue"), `"${t.queue}" is not a valid queue name`);
  if (t.priority !== undefined && (t.priority < PRIORITY_MIN || t.priority > PRIORITY_MAX)) {
    throw InvalidArgumentError.field(f("task.priority"), `must be from ${PRIORITY_MIN} to ${PRIORITY_MAX}`);
  }
  if (t.maxAttempts !== undefined && (t.maxAttempts < 1 || t.maxAttempts > MAX_ATTEMPTS_LIMIT)) {
    throw InvalidArgumentError.field(f("task.max_attempts"), `must be from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  }
  const input = t.input ?? anyPack(StructSchema, create(StructSchema));
  const catchUpLimit = definition.catchUpLimit === 0 ? DEFAULT_CATCH_UP_LIMIT : definition.catchUpLimit;
  if (catchUpLimit < 1 || catchUpLimit > MAX_CATCH_UP_LIMIT) throw InvalidArgumentError.field(f("catch_up_limit"), `must be from 1 to ${MAX_CATCH_UP_LIMIT}`);
  if (definition.description.length > DESCRIPTION_MAX) throw InvalidArgumentError.field(f("description"), `must be at most ${DESCRIPTION_MAX} characters`);
  return {
    spec,
    type: taskType,
    inputTypeUrl: input.typeUrl,
    input: input.value,
    options: {
      queue: t.queue,
      ...(t.priority === undefined ? {} : { priority: t.priority }),
      ...(t.timeout === undefined ? {} : { timeoutMs: validDurationMs(t.timeout, f("task.timeout"), true) }),
      ...(t.maxAttempts === undefined ? {} : { maxAttempts: t.maxAttempts }),
      labels: validLabels(t.labels, f("task.labels")),
    },
    overlap: nameOf(OVERLAP, definition.overlap, DEFAULT_OVERLAP, f("overlap")),
    catchUp: nameOf(CATCH_UP, definition.catchUp, DEFAULT_CATCH_UP, f("catch_up")),
    catchUpLimit,
    description: definition.description,
  };
}

/** Most schedules a worker may declare per task type. */
export const MAX_DECLARED_PER_TYPE = 16;

/**
 * The schedules a worker's Hello declares with its types, checked field by field (the catalog
 * checks follow in the scheduler). @throws InvalidArgumentError naming the field.
 */
export function declaredSchedules(hello: Hello): { id: string; definition: ScheduleDefinitionRecord; field: string }[] {
  const declared: { id: string; definition: ScheduleDefinitionRecord; field: string }[] = [];
  const seen = new Set<string>();
  hello.types.forEach((type, i) => {
    if (type.schedules.length > MAX_DECLARED_PER_TYPE) {
      throw InvalidArgumentError.field(`hello.types[${i}].schedules`, `must hold at most ${MAX_DECLARED_PER_TYPE} schedules`);
    }
    type.schedules.forEach((schedule, j) => {
      const field = `hello.types[${i}].schedules[${j}]`;
      const id = validScheduleId(schedule.id, `${field}.id`);
      if (seen.has(id)) throw InvalidArgumentError.field(`${field}.id`, `"${id}" is declared twice`);
      seen.add(id);
      declared.push({ id, definition: definitionFromProto(schedule.definition, `${field}.definition`, type.name), field: `${field}.definition` });
    });
  });
  return declared;
}

/** A stored schedule as the API's message, with up to `nextCount` next fire times. */
export function scheduleToProto(schedule: ScheduleView, nextCount: number): Schedule {
  const { spec, options } = schedule;
  const next: number[] = [];
  if (schedule.nextFireAt !== null && nextCount > 0) {
    next.push(schedule.nextFireAt.getTime(), ...nextFireTimes(fireTimes(spec), schedule.nextFireAt.getTime(), nextCount - 1));
  }
  return create(ScheduleSchema, {
    id: schedule.id,
    definition: {
      spec: {
        kind: spec.cron !== undefined ? { case: "cron", value: spec.cron } : { case: "interval", value: durationFromMs(spec.intervalMs ?? 0) },
        timeZone: spec.timeZone,
        startTime: spec.startMs === undefined ? undefined : timestampFromDate(new Date(spec.startMs)),
        endTime: spec.endMs === undefined ? undefined : timestampFromDate(new Date(spec.endMs)),
        jitter: spec.jitterMs > 0 ? durationFromMs(spec.jitterMs) : undefined,
      },
      task: {
        type: schedule.type,
        input: { typeUrl: schedule.inputTypeUrl, value: schedule.input },
        queue: options.queue,
        priority: options.priority,
        timeout: options.timeoutMs === undefined ? undefined : durationFromMs(options.timeoutMs),
        maxAttempts: options.maxAttempts,
        labels: options.labels,
      },
      overlap: OVERLAP[schedule.overlap],
      catchUp: CATCH_UP[schedule.catchUp],
      catchUpLimit: schedule.catchUpLimit,
      description: schedule.description,
    },
    paused: schedule.pausedAt !== null,
    pauseTime: schedule.pausedAt === null ? undefined : timestampFromDate(schedule.pausedAt),
    nextFireTimes: next.map((ms) => timestampFromDate(new Date(ms))),
    lastFireTime: schedule.lastFireAt === null ? undefined : timestampFromDate(schedule.lastFireAt),
    lastTaskId: schedule.lastTaskId ?? "",
    lastTaskState: schedule.lastTaskState === null ? undefined : stateToProto(schedule.lastTaskState),
    lastError: schedule.lastError ?? "",
    source: schedule.source === "WORKER" ? ScheduleSource.WORKER : ScheduleSource.API,
    createTime: timestampFromDate(schedule.createdAt),
    updateTime: timestampFromDate(schedule.updatedAt),
  });
}
