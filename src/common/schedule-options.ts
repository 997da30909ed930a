/**
 * Schedules as TypeScript options, shared by the client SDK (`client.schedules`) and the worker
 * SDK (`defineTask({ schedules })`): when (cron in a time zone, or an interval), the options of
 * the fired tasks, and the policies, turned into the API's `ScheduleDefinition`. The server
 * checks everything again; mistakes caught here throw `RangeError`.
 * See `proto/taskwire/v1/schedule.proto` for what each field means.
 */
import { create, type DescMessage } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate, type Any } from "@bufbuild/protobuf/wkt";
import {
  CatchUpPolicy,
  OverlapPolicy,
  ScheduleDefinitionSchema,
  type ScheduleDefinition,
} from "../../gen/taskwire/v1/schedule_pb.js";
import { parseDuration } from "../config/config.js";
import type { CatchUpPolicyName, OverlapPolicyName } from "../core/schedule-types.js";
import type { TaskValueInit } from "./task-definition.js";

/** When a schedule fires, and how its tasks run. Give `cron` or `every`. */
export interface ScheduleTiming {
  /** A cron expression of 5 fields, or 6 with seconds first (`"0 30 2 * * *"`), or `@daily`. */
  cron?: string;
  /** A fixed interval (at least 1 s): milliseconds or like `"15m"`; aligned to `start`, else to the Unix epoch. */
  every?: number | string;
  /** IANA time zone of `cron`. @default "UTC" */
  timeZone?: string;
  /** Nothing fires before (inclusive). */
  start?: Date;
  /** Nothing fires at or after. */
  end?: Date;
  /** Each fired task runs after a random delay up to this (milliseconds or like `"30s"`, at most 24 h). @default 0 */
  jitter?: number | string;
  /** While the previous fire's task has not finished. @default "SKIP" */
  overlap?: OverlapPolicyName;
  /** Fire times missed while no server ran (more than a minute late). @default "SKIP_MISSED" */
  catchUp?: CatchUpPolicyName;
  /** Most missed fire times `RUN_ALL` fires (the latest ones). @default 100 */
  catchUpLimit?: number;
  /** Shown by `taskwire schedules get`. */
  description?: string;
  /** Queue of the fired tasks. @default the type's */
  queue?: string;
  /** Priority of the fired tasks. @default the type's */
  priority?: number;
  /** Per-attempt timeout of the fired tasks (milliseconds or like `"10m"`). @default the type's */
  timeout?: number | string;
  /** Maximum attempts of the fired tasks. @default the type's */
  maxAttempts?: number;
  /** Labels of the fired tasks, besides `schedule` (the schedule's id), which every fire sets. */
  labels?: Record<string, string>;
}

/** A schedule a worker declares with its task definition (`defineTask({ schedules: [...] })`). */
export type DeclaredScheduleOptions<I extends DescMessage> = ScheduleTiming & {
  /** The schedule's id. @default the task's name (a second schedule of one task needs an id of its own) */
  id?: string;
  /** The input of every fire. @default an empty input */
  input?: TaskValueInit<I>;
};

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

function ms(value: number | string, name: string): number {
  const parsed = typeof value === "number" ? value : parseDuration(value);
  if (parsed === undefined || !Number.isFinite(parsed) || parsed < 0) {
    throw new RangeError(`${name}: expected a duration in milliseconds or like "30s", "15m", got ${JSON.stringify(value)}`);
  }
  return Math.round(parsed);
}

function date(value: Date, name: string) {
  if (Number.isNaN(value.getTime())) throw new RangeError(`${name}: invalid date`);
  return timestampFromDate(value);
}

/**
 * The API's definition of a schedule of `type` whose fires submit `input`.
 * @throws RangeError when neither or both of `cron` and `every` are given, or a duration, date or policy is malformed.
 */
export function scheduleDefinitionOf(timing: ScheduleTiming, type: string, input: Any | undefined): ScheduleDefinition {
  if ((timing.cron === undefined) === (timing.every === undefined)) throw new RangeError("a schedule needs either cron or every");
  if (timing.overlap !== undefined && !(timing.overlap in OVERLAP)) throw new RangeError(`overlap: not one of ${Object.keys(OVERLAP).join(", ")}`);
  if (timing.catchUp !== undefined && !(timing.catchUp in CATCH_UP)) throw new RangeError(`catchUp: not one of ${Object.keys(CATCH_UP).join(", ")}`);
  return create(ScheduleDefinitionSchema, {
    spec: {
      kind: timing.cron !== undefined ? { case: "cron", value: timing.cron } : { case: "interval", value: durationFromMs(ms(timing.every ?? 0, "every")) },
      timeZone: timing.timeZone ?? "",
      startTime: timing.start === undefined ? undefined : date(timing.start, "start"),
      endTime: timing.end === undefined ? undefined : date(timing.end, "end"),
      jitter: timing.jitter === undefined ? undefined : durationFromMs(ms(timing.jitter, "jitter")),
    },
    task: {
      type,
      input,
      queue: timing.queue ?? "",
      priority: timing.priority,
      timeout: timing.timeout === undefined ? undefined : durationFromMs(ms(timing.timeout, "timeout")),
      maxAttempts: timing.maxAttempts,
      labels: timing.labels ?? {},
    },
    overlap: timing.overlap === undefined ? OverlapPolicy.UNSPECIFIED : OVERLAP[timing.overlap],
    catchUp: timing.catchUp === undefined ? CatchUpPolicy.UNSPECIFIED : CATCH_UP[timing.catchUp],
    catchUpLimit: timing.catchUpLimit ?? 0,
    description: timing.description ?? "",
  });
}
