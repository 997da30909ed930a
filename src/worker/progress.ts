/**
 * Turning `ctx.progress(...)` calls into the progress a task reports. Updates merge into the
 * attempt's last value, so `ctx.progress({ message: "step 2" })` keeps the percent reached so
 * far, and `{ current, total }` alone computes the percent.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ProgressSchema, type Progress } from "../../gen/taskwire/v1/task_pb.js";
import { structFromJson, structToJson } from "../common/any.js";
import type { ProgressUpdate } from "../common/task-definition.js";

/** The progress of an attempt after merging every update so far. */
export interface ProgressSnapshot {
  /** 0 to 100. */
  percent: number;
  message: string;
  current?: number;
  total?: number;
  details?: JsonObject;
}

function clampPercent(value: number): number {
  return Math.min(100, Math.max(0, value));
}

/**
 * Applies one update to the previous snapshot (undefined: none yet). A number is a percent;
 * fields missing from an object keep their previous value; a percent outside 0–100 is clamped
 * and a non-finite one ignored.
 */
export function mergeProgress(previous: ProgressSnapshot | undefined, update: ProgressUpdate): ProgressSnapshot {
  const next: ProgressSnapshot = previous ? { ...previous } : { percent: 0, message: "" };
  const fields = typeof update === "number" ? { percent: update } : update;
  if (fields.message !== undefined) next.message = fields.message;
  if (fields.current !== undefined && Number.isFinite(fields.current)) next.current = fields.current;
  if (fields.total !== undefined && Number.isFinite(fields.total)) next.total = fields.total;
  if (fields.details !== undefined) next.details = fields.details;
  if (fields.percent !== undefined) {
    if (Number.isFinite(fields.percent)) next.percent = clampPercent(fields.percent);
  } else if (
    (fields.current !== undefined || fields.total !== undefined) &&
    next.current !== undefined &&
    next.total !== undefined &&
    next.total > 0
  ) {
    next.percent = clampPercent((next.current / next.total) * 100);
  }
  return next;
}

/**
 * The wire form of a snapshot, stamped with `time`.
 * @throws Error when `details` holds values JSON cannot carry.
 */
export function progressMessage(snapshot: ProgressSnapshot, time: Date): Progress {
  return create(ProgressSchema, {
    percent: snapshot.percent,
    message: snapshot.message,
    current: snapshot.current === undefined ? undefined : BigInt(Math.trunc(snapshot.current)),
    total: snapshot.total === undefined ? undefined : BigInt(Math.trunc(snapshot.total)),
    // Round trip through Struct: throws here, not in the transport, on values JSON cannot carry.
    details: snapshot.details === undefined ? undefined : structToJson(structFromJson(snapshot.details)),
    updateTime: timestampFromDate(time),
  });
}
