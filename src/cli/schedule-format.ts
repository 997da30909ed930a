/**
 * How the CLI shows schedules (`schedules list`, `get`, `next`): tables and fields for people,
 * in the style of the fleet commands, proto JSON for machines (`--json`).
 */
import { create, toJson, type JsonObject, type Registry } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import {
  CatchUpPolicy,
  OverlapPolicy,
  ScheduleSchema,
  ScheduleSource,
  type Schedule,
  type ScheduleSpec,
} from "../../gen/taskwire/v1/schedule_pb.js";
import { ListSchedulesResponseSchema } from "../../gen/taskwire/v1/schedule_service_pb.js";
import { anyValueToJson, taskStateName, TaskState } from "../client/index.js";
import { formatDuration, formatFields, formatLabels, formatMs, formatTable, formatTime } from "./format.js";

/** "cron 30 2 * * * (Europe/Vienna)" or "every 15m". */
export function formatSpec(spec: ScheduleSpec | undefined): string {
  if (!spec) return "";
  if (spec.kind.case === "interval") return `every ${formatMs(durationMs(spec.kind.value))}`;
  return `${spec.kind.value ?? ""} (${spec.timeZone || "UTC"})`;
}

/** ACTIVE, PAUSED, or ENDED (no fire time left). */
export function scheduleStateName(schedule: Schedule): string {
  if (schedule.paused) return "PAUSED";
  return schedule.nextFireTimes.length === 0 ? "ENDED" : "ACTIVE";
}

/** The state of the last fire's task; DELETED once retention (or an operator) removed it. */
function lastTaskState(schedule: Schedule): string {
  return schedule.lastTaskState === TaskState.UNSPECIFIED ? "DELETED" : taskStateName(schedule.lastTaskState);
}

/** The table of `taskwire schedules list`. */
export function formatScheduleTable(schedules: readonly Schedule[]): string {
  return formatTable(
    ["ID", "TYPE", "WHEN", "STATE", "NEXT", "LAST", "LAST-TASK", "SOURCE"],
    schedules.map((s) => [
      s.id,
      s.definition?.task?.type ?? "",
      formatSpec(s.definition?.spec),
      scheduleStateName(s),
      formatTime(s.nextFireTimes[0]) || "-",
      formatTime(s.lastFireTime) || "-",
      s.lastTaskId === "" ? "-" : lastTaskState(s),
      ScheduleSource[s.source] ?? "",
    ]),
  );
}

/** `taskwire schedules get`: one field a line, then the next fire times. */
export function formatScheduleDetails(schedule: Schedule, registry: Registry): string {
  const d = schedule.definition;
  const spec = d?.spec;
  const task = d?.task;
  const fields: [string, string][] = [
    ["id", schedule.id],
    ["state", scheduleStateName(schedule)],
    ["when", formatSpec(spec)],
    ["start", formatTime(spec?.startTime)],
    ["end", formatTime(spec?.endTime)],
    ["jitter", formatDuration(spec?.jitter)],
    ["type", task?.type ?? ""],
    ["input", task?.input ? JSON.stringify(anyValueToJson(task.input, registry)) : ""],
    ["queue", task?.queue ?? ""],
    ["priority", task?.priority === undefined ? "" : String(task.priority)],
    ["timeout", formatDuration(task?.timeout)],
    ["max attempts", task?.maxAttempts === undefined ? "" : String(task.maxAttempts)],
    ["labels", formatLabels(task?.labels ?? {})],
    ["overlap", OverlapPolicy[d?.overlap ?? 0] ?? ""],
    ["catch-up", `${CatchUpPolicy[d?.catchUp ?? 0] ?? ""}${d?.catchUp === CatchUpPolicy.RUN_ALL ? ` (at most ${d.catchUpLimit})` : ""}`],
    ["description", d?.description ?? ""],
    ["source", ScheduleSource[schedule.source] ?? ""],
    ["paused since", formatTime(schedule.pauseTime)],
    ["last fire", formatTime(schedule.lastFireTime)],
    ["last task", schedule.lastTaskId === "" ? "" : `${schedule.lastTaskId} (${lastTaskState(schedule)})`],
    ["last error", schedule.lastError],
    ["created", formatTime(schedule.createTime)],
    ["updated", formatTime(schedule.updateTime)],
  ];
  const next = schedule.nextFireTimes.map((time) => `  ${formatTime(time)}\n`).join("");
  return `${formatFields(fields)}${next === "" ? "" : `next fire times:\n${next}`}`;
}

/** The lines of `taskwire schedules next`: each fire time in UTC and in the zone. */
export function formatFireTimes(times: readonly number[], timeZone: string): string {
  const local = new Intl.DateTimeFormat("sv-SE", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZoneName: "short",
  });
  return formatTable(
    ["UTC", timeZone.toUpperCase() === "UTC" ? "LOCAL" : timeZone],
    times.map((ms) => [new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"), local.format(new Date(ms))]),
  );
}

/** A schedule as proto JSON. */
export function scheduleToJson(schedule: Schedule, registry: Registry): JsonObject {
  return toJson(ScheduleSchema, schedule, { registry }) as JsonObject;
}

/** A list of schedules as proto JSON. */
export function schedulesToJson(schedules: Schedule[], registry: Registry): JsonObject {
  return toJson(ListSchedulesResponseSchema, create(ListSchedulesResponseSchema, { schedules }), { registry }) as JsonObject;
}
