/**
 * AdminService's messages from the store's records: workers, servers, queues. The worker's
 * state shown is the fleet's view: a stream recorded open whose worker has not been seen for a
 * lease timeout (its server died) shows as DISCONNECTED.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  QueueSchema,
  ServerSchema,
  ServerState,
  WorkerSchema,
  WorkerState,
  type Queue,
  type Server,
  type Worker,
} from "../../../gen/taskwire/v1/admin_service_pb.js";
import type { QueueSettingsRecord, ServerRecord } from "../../core/task-types.js";
import type { QueueStatsRecord, WorkerView } from "../../store/store.js";

/** Whether a worker's stream counts as open: recorded open, and seen within `silenceMs`. */
export function isConnected(worker: WorkerView, now: number, silenceMs: number): boolean {
  return worker.disconnectedAt === null && now - worker.lastSeenAt.getTime() <= silenceMs;
}

export function workerToProto(worker: WorkerView, now: number, silenceMs: number): Worker {
  const connected = isConnected(worker, now, silenceMs);
  return create(WorkerSchema, {
    id: worker.id,
    host: worker.host,
    pid: worker.pid,
    sdk: worker.sdk,
    serverId: worker.serverId,
    queues: worker.queues,
    types: worker.types,
    slots: worker.slots,
    slotsInUse: connected ? worker.running.length : 0,
    running: connected
      ? worker.running.map((r) => ({
          taskId: r.taskId,
          attempt: r.attempt,
          type: r.type,
          queue: r.queue,
          startTime: r.startedAt === null ? undefined : timestampFromDate(r.startedAt),
        }))
      : [],
    state: !connected ? WorkerState.DISCONNECTED : worker.state === "DRAINING" ? WorkerState.DRAINING : WorkerState.CONNECTED,
    connectTime: timestampFromDate(worker.connectedAt),
    lastHeartbeatTime: timestampFromDate(worker.lastSeenAt),
    disconnectTime: worker.disconnectedAt === null ? undefined : timestampFromDate(worker.disconnectedAt),
  });
}

export function serverToProto(server: ServerRecord): Server {
  return create(ServerSchema, {
    id: server.id,
    host: server.host,
    pid: server.pid,
    version: server.version,
    address: server.address,
    state: server.state === "DRAINING" ? ServerState.DRAINING : ServerState.SERVING,
    startTime: timestampFromDate(server.startedAt),
    lastHeartbeatTime: timestampFromDate(server.lastHeartbeatAt),
    workerCount: server.workerCount,
  });
}

/** A queue's view from its figures (absent: none yet), its settings and the workers serving it. */
export function queueToProto(
  name: string,
  stats: QueueStatsRecord | undefined,
  settings: QueueSettingsRecord | undefined,
  workerIds: readonly string[],
  now: number,
): Queue {
  const pausedAt = settings?.pausedAt ?? null;
  return create(QueueSchema, {
    name,
    scheduled: BigInt(stats?.scheduled ?? 0),
    queued: BigInt(stats?.queued ?? 0),
    running: BigInt(stats?.running ?? 0),
    oldestQueuedAge: stats?.oldestQueuedAt ? durationFromMs(Math.max(0, now - stats.oldestQueuedAt.getTime())) : undefined,
    paused: pausedAt !== null,
    pauseTime: pausedAt === null ? undefined : timestampFromDate(pausedAt),
    workerIds: [...workerIds],
    succeededLastMinute: BigInt(stats?.succeededLastMinute ?? 0),
    failedLastMinute: BigInt(stats?.failedLastMinute ?? 0),
    succeededLastHour: BigInt(stats?.succeededLastHour ?? 0),
    failedLastHour: BigInt(stats?.failedLastHour ?? 0),
  });
}
