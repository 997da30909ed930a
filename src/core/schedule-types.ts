/**
 * Domain types of schedules, shared by the store, the scheduler and the CLI. Plain data in
 * camelCase; times as epoch milliseconds inside the stored spec (a `jsonb` column), `Date`s
 * elsewhere. See `proto/taskwire/v1/schedule.proto` for what each field means.
 */
import type { TaskStateName } from "./task-states.js";

/** When a schedule fires: exactly one of `cron` and `intervalMs`. */
export interface ScheduleSpecRecord {
  /** 5 or 6 fields (seconds first), or a nickname (`@daily`). */
  cron?: string;
  /** At least 1000. */
  intervalMs?: number;
  /** IANA time zone of `cron`. @default "UTC" */
  timeZone: string;
  /** Nothing fires before (inclusive); epoch ms. */
  startMs?: number;
  /** Nothing fires at or after; epoch ms. */
  endMs?: number;
  /** Random delay of each fired task, 0 up to this. */
  jitterMs: number;
}

/** The options a fired task takes from its schedule (the type and input are columns of their own). */
export interface TaskTemplateOptions {
  /** Empty: the type's queue, else the priority convention. */
  queue: string;
  priority?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  labels: Record<string, string>;
}

/** See `OverlapPolicy` in the proto. */
export type OverlapPolicyName = "ALLOW" | "SKIP" | "CANCEL_PREVIOUS";
/** See `CatchUpPolicy` in the proto. */
export type CatchUpPolicyName = "SKIP_MISSED" | "RUN_ONCE" | "RUN_ALL";

/** The default overlap policy: a slow task never piles up fires behind it. */
export const DEFAULT_OVERLAP: OverlapPolicyName = "SKIP";
/** The default catch-up policy. */
export const DEFAULT_CATCH_UP: CatchUpPolicyName = "SKIP_MISSED";
/** The default and the largest bound of RUN_ALL. */
export const DEFAULT_CATCH_UP_LIMIT = 100;
export const MAX_CATCH_UP_LIMIT = 1000;

/** A schedule's definition, validated: what Create, Upsert and Update write. */
export interface ScheduleDefinitionRecord {
  spec: ScheduleSpecRecord;
  type: string;
  inputTypeUrl: string;
  input: Uint8Array;
  options: TaskTemplateOptions;
  overlap: OverlapPolicyName;
  catchUp: CatchUpPolicyName;
  catchUpLimit: number;
  description: string;
}

/** Who last wrote a definition. */
export type ScheduleSourceName = "API" | "WORKER";

/** A schedule as stored. */
export interface ScheduleRecord extends ScheduleDefinitionRecord {
  /** 1 to 128 of letters, digits and `_ . : -`. */
  id: string;
  pausedAt: Date | null;
  /** Null: paused, or no fire time is left (ended). */
  nextFireAt: Date | null;
  lastFireAt: Date | null;
  lastTaskId: string | null;
  lastError: string | null;
  source: ScheduleSourceName;
  /**
   * A digest of the last definition a worker declared for this id: a worker connecting with the
   * same declaration leaves the schedule alone, so changes made by hand stay.
   */
  declaredHash: string | null;
  /** Bumped by every change; a fire commits only if the schedule is still at the revision it read. */
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A schedule with the state of its last task (GetSchedule, ListSchedules). */
export interface ScheduleView extends ScheduleRecord {
  lastTaskState: TaskStateName | null;
}

/** Schedule ids. */
export const SCHEDULE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
