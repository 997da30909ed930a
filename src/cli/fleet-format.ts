/**
 * How the CLI shows the fleet (`workers`, `servers`, `queues`, `queue stats`, `tasks count`):
 * tables and fields for people, in the style of `tasks list` ({@link formatTable}), proto JSON
 * for machines (`--json`).
 */
import { create, toJson, type JsonObject } from "@bufbuild/protobuf";
import { durationMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  CountTasksResponseSchema,
  ListQueuesResponseSchema,
  ListServersResponseSchema,
  ListWorkersResponseSchema,
  QueueSchema,
  ServerState,
  WorkerSchema,
  WorkerState,
  type CountTasksResponse,
  type Queue,
  type Server,
  type Worker,
} from "../../gen/taskwire/v1/admin_service_pb.js";
import { taskStateName } from "../client/index.js";
import { formatFields, formatMs, formatTable, formatTime } from "./format.js";

/** `"1 task"`, `"2 tasks"`: a count and its noun, plural unless the count is one. */
export function plural(count: number | bigint, noun: string): string {
  return `${count} ${noun}${count === 1 || count === 1n ? "" : "s"}`;
}

/** An age in whole seconds, like "1m30s"; "<1s" below one second. */
export function formatAge(ms: number): string {
  return ms < 1000 ? "<1s" : formatMs(Math.floor(ms / 1000) * 1000);
}

/** How long ago `time` was, as "3s ago" ({@link formatAge}); "" when unset. */
export function formatAgo(time: Timestamp | undefined, nowMs: number): string {
  return time ? `${formatAge(nowMs - timestampMs(time))} ago` : "";
}

/** The age of a queue's oldest queued task, or "-" when none is queued. */
function oldest(queue: Queue): string {
  return queue.oldestQueuedAge ? formatAge(durationMs(queue.oldestQueuedAge)) : "-";
}

/** The worker state's name without prefix, e.g. `"DRAINING"`. */
export function workerStateName(state: WorkerState): string {
  return WorkerState[state] ?? "UNSPECIFIED";
}

/** The server state's name without prefix, e.g. `"SERVING"`. */
export function serverStateName(state: ServerState): string {
  return ServerState[state] ?? "UNSPECIFIED";
}

/** The table of `taskwire workers`; LAST-SEEN is the last heartbeat, or the disconnect once the stream closed. */
export function formatWorkerTable(workers: readonly Worker[], nowMs: number): string {
  return formatTable(
    ["ID", "HOST", "PID", "SERVER", "QUEUES", "SLOTS", "IN-USE", "STATE", "CONNECTED", "LAST-SEEN"],
    workers.map((worker) => [
      worker.id,
      worker.host,
      String(worker.pid),
      worker.serverId,
      worker.queues.join(","),
      String(worker.slots),
      String(worker.slotsInUse),
      workerStateName(worker.state),
      formatTime(worker.connectTime),
      formatAgo(worker.disconnectTime ?? worker.lastHeartbeatTime, nowMs),
    ]),
  );
}

/** The table of `taskwire servers`. */
export function formatServerTable(servers: readonly Server[], nowMs: number): string {
  return formatTable(
    ["ID", "HOST", "PID", "VERSION", "ADDRESS", "STATE", "STARTED", "LAST-SEEN", "WORKERS"],
    servers.map((server) => [
      server.id,
      server.host,
      String(server.pid),
      server.version,
      server.address,
      serverStateName(server.state),
      formatTime(server.startTime),
      formatAgo(server.lastHeartbeatTime, nowMs),
      String(server.workerCount),
    ]),
  );
}

/** The table of `taskwire queues`: depth, age of the oldest queued task, workers, and outcomes of the last minute and hour. */
export function formatQueueTable(queues: readonly Queue[]): string {
  return formatTable(
    ["QUEUE", "PAUSED", "SCHEDULED", "QUEUED", "RUNNING", "OLDEST", "WORKERS", "OK/1M", "FAILED/1M", "OK/1H", "FAILED/1H"],
    queues.map((queue) => [
      queue.name,
      queue.paused ? "yes" : "no",
      String(queue.scheduled),
      String(queue.queued),
      String(queue.running),
      oldest(queue),
      String(queue.workerIds.length),
      String(queue.succeededLastMinute),
      String(queue.failedLastMinute),
      String(queue.succeededLastHour),
      String(queue.failedLastHour),
    ]),
  );
}

/** One queue's figures, one a line (`taskwire queue stats`). */
export function formatQueueDetails(queue: Queue): string {
  return formatFields([
    ["queue", queue.name],
    ["paused", queue.paused ? `yes, since ${formatTime(queue.pauseTime) || "(unknown)"}` : "no"],
    ["scheduled", String(queue.scheduled)],
    ["queued", String(queue.queued)],
    ["running", String(queue.running)],
    ["oldest queued", oldest(queue)],
    ["workers", queue.workerIds.length === 0 ? "none" : `${queue.workerIds.length} (${queue.workerIds.join(", ")})`],
    ["last minute", `${queue.succeededLastMinute} succeeded, ${queue.failedLastMinute} failed`],
    ["last hour", `${queue.succeededLastHour} succeeded, ${queue.failedLastHour} failed`],
  ]);
}

/** The table of `taskwire tasks count`: one column per group (state first), then the count. */
export function formatCountTable(response: CountTasksResponse, groups: { type: boolean; queue: boolean }): string {
  const headers = ["STATE", ...(groups.type ? ["TYPE"] : []), ...(groups.queue ? ["QUEUE"] : []), "COUNT"];
  const rows = response.counts.map((count) => [
    taskStateName(count.state),
    ...(groups.type ? [count.type] : []),
    ...(groups.queue ? [count.queue] : []),
    String(count.count),
  ]);
  return formatTable(headers, rows);
}

/** Workers as the proto JSON of a `ListWorkersResponse`. */
export function workersToJson(workers: Worker[]): JsonObject {
  return toJson(ListWorkersResponseSchema, create(ListWorkersResponseSchema, { workers })) as JsonObject;
}

/** One worker as proto JSON. */
export function workerToJson(worker: Worker): JsonObject {
  return toJson(WorkerSchema, worker) as JsonObject;
}

/** Servers as the proto JSON of a `ListServersResponse`. */
export function serversToJson(servers: Server[]): JsonObject {
  return toJson(ListServersResponseSchema, create(ListServersResponseSchema, { servers })) as JsonObject;
}

/** Queues as the proto JSON of a `ListQueuesResponse`. */
export function queuesToJson(queues: Queue[]): JsonObject {
  return toJson(ListQueuesResponseSchema, create(ListQueuesResponseSchema, { queues })) as JsonObject;
}

/** One queue as proto JSON. */
export function queueToJson(queue: Queue): JsonObject {
  return toJson(QueueSchema, queue) as JsonObject;
}

/** Counts as the proto JSON of a `CountTasksResponse` (int64s are strings), with `counts` and `total` even when empty. */
export function countsToJson(response: CountTasksResponse): JsonObject {
  const json = toJson(CountTasksResponseSchema, response) as JsonObject;
  return { counts: [], ...json, total: String(response.total) };
}
