/** Formatting of times, durations, states and counts for the dashboard. */
import { timestampDate, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";

/** `TASK_STATE_RUNNING` → `RUNNING`. */
export function stateName(state: TaskState): string {
  return TaskState[state] ?? String(state);
}

/** The states a filter offers, in lifecycle order. */
export const STATES: readonly TaskState[] = Object.values(TaskState).filter((v): v is TaskState => typeof v === "number" && v !== TaskState.UNSPECIFIED);

/** States that can still change. */
export function isFinished(state: TaskState): boolean {
  return state === TaskState.SUCCEEDED || state === TaskState.FAILED || state === TaskState.CANCELLED;
}

/** Milliseconds as `850 ms`, `12.3 s`, `4m 10s`, `2h 5m`, `3d 4h`. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.floor(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** A `google.protobuf.Duration` in ms. */
export function durationMs(duration: Duration | undefined): number | undefined {
  return duration === undefined ? undefined : Number(duration.seconds) * 1000 + duration.nanos / 1e6;
}

/** A duration for a cell: `—` when unset. */
export function formatDuration(duration: Duration | undefined): string {
  const ms = durationMs(duration);
  return ms === undefined ? "—" : formatMs(ms);
}

/** A timestamp as local date and time, `—` when unset. */
export function formatTime(time: Timestamp | undefined): string {
  if (time === undefined) return "—";
  return timestampDate(time).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

/** How long ago `time` was: `12 s ago`; `—` when unset. */
export function ago(time: Timestamp | undefined, now = Date.now()): string {
  if (time === undefined) return "—";
  const ms = now - timestampDate(time).getTime();
  return ms >= 0 ? `${formatMs(ms)} ago` : `in ${formatMs(-ms)}`;
}

/** A count with thousands separators. */
export function formatCount(n: number | bigint): string {
  return n.toLocaleString();
}

/** A task id shortened for tables (the full id is in its link's title). */
export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}
