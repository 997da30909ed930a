/**
 * `AdminService.GetOverview` and `GetCaller`: what a dashboard shows first. The overview's cost
 * is bounded by the fleet, not by the tasks stored: the last hour comes from the per-minute
 * counters (`task_minute_stats`, at most 60 rows), the backlog from a count of the unfinished
 * tasks only (through the unfinished-state index: as many rows as wait or run now, never the
 * finished history), workers from the workers table, paused queues from the queue settings.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import {
  GetCallerResponseSchema,
  GetOverviewResponseSchema,
  OverviewMinuteSchema,
  type GetCallerResponse,
  type GetOverviewResponse,
} from "../../../gen/taskwire/v1/admin_service_pb.js";
import { UNFINISHED_STATE_LIST } from "../../core/task-states.js";
import type { TaskStore } from "../../store/store.js";
import { callerOf, ROLE_PERMISSIONS } from "../auth/index.js";
import type { Permission } from "../auth/roles.js";
import { stateToProto } from "../convert.js";
import { SERVER_SILENCE_MS } from "../duties/server-heartbeat.js";
import { addMinute, emptyMinute, waitQuantileMs, type MinuteCounts } from "../observability/minute-counters.js";
import { isConnected } from "./fleet-convert.js";

const MINUTE_MS = 60_000;
/** Minutes the overview covers, the current one included. */
export const OVERVIEW_MINUTES = 60;

/** Every permission, for a caller when no keys are checked. */
const ALL_PERMISSIONS: readonly Permission[] = [...new Set(Object.values(ROLE_PERMISSIONS).flatMap((set) => [...set]))];

function waitDuration(buckets: readonly number[], quantile: number) {
  const ms = waitQuantileMs(buckets, quantile);
  return ms === undefined ? undefined : durationFromMs(ms);
}

/** The overview at `now`; see the file header. */
export async function readOverview(store: TaskStore, leaseTimeoutMs: number, now: number): Promise<GetOverviewResponse> {
  const first = Math.floor(now / MINUTE_MS) * MINUTE_MS - (OVERVIEW_MINUTES - 1) * MINUTE_MS;
  const [rows, backlog, workers, servers, settings] = await Promise.all([
    store.readMinuteStats(new Date(first)),
    store.countTasks({ states: UNFINISHED_STATE_LIST }, { type: false, queue: false }),
    store.listWorkers({ includeDisconnected: false }),
    store.listServers(new Date(now - SERVER_SILENCE_MS)),
    store.listQueueSettings(),
  ]);
  const byMinute = new Map<number, MinuteCounts>();
  for (const row of rows) byMinute.set(row.minute.getTime(), { ...row, minute: row.minute.getTime() });
  const hour = emptyMinute(first);
  const minutes = [];
  for (let i = 0; i < OVERVIEW_MINUTES; i++) {
    const start = first + i * MINUTE_MS;
    const counts = byMinute.get(start) ?? emptyMinute(start);
    addMinute(hour, counts);
    minutes.push(
      create(OverviewMinuteSchema, {
        startTime: timestampFromMs(start),
        succeeded: BigInt(counts.succeeded),
        failed: BigInt(counts.failed),
        cancelled: BigInt(counts.cancelled),
        started: BigInt(counts.started),
        queueWaitP50: waitDuration(counts.waitBuckets, 0.5),
        queueWaitP95: waitDuration(counts.waitBuckets, 0.95),
      }),
    );
  }
  const connected = workers.filter((w) => isConnected(w, now, leaseTimeoutMs));
  return create(GetOverviewResponseSchema, {
    backlog: backlog.map((row) => ({ state: stateToProto(row.state), count: BigInt(row.count) })),
    minutes,
    queueWaitP50: waitDuration(hour.waitBuckets, 0.5),
    queueWaitP95: waitDuration(hour.waitBuckets, 0.95),
    workers: connected.length,
    slots: connected.reduce((sum, w) => sum + w.slots, 0),
    slotsInUse: connected.reduce((sum, w) => sum + w.running.length, 0),
    servers: servers.length,
    pausedQueues: settings.filter((s) => s.pausedAt !== null).map((s) => s.queue).sort(),
  });
}

/** The caller of `context` and what it may do; with no keys checked, everything. */
export function callerView(context: Pick<HandlerContext, "values">): GetCallerResponse {
  const caller = callerOf(context);
  if (caller === undefined) return create(GetCallerResponseSchema, { auth: false, permissions: [...ALL_PERMISSIONS] });
  return create(GetCallerResponseSchema, { auth: true, keyId: caller.keyId, role: caller.role, permissions: [...ROLE_PERMISSIONS[caller.role]] });
}
