import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  CountTasksResponseSchema,
  QueueSchema,
  ServerSchema,
  ServerState,
  WorkerSchema,
  WorkerState,
} from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import {
  countsToJson,
  formatAge,
  formatAgo,
  formatCountTable,
  formatQueueDetails,
  formatQueueTable,
  formatServerTable,
  formatWorkerTable,
  plural,
  queuesToJson,
  workersToJson,
} from "../../src/cli/fleet-format.js";

const T0 = Date.parse("2030-01-02T03:04:05.678Z");
const NOW = T0 + 65_400;

const connected = create(WorkerSchema, {
  id: "host-a-4242-x1",
  host: "host-a",
  pid: 4242,
  serverId: "srv-1",
  queues: ["high_priority", "default"],
  slots: 10,
  slotsInUse: 3,
  state: WorkerState.CONNECTED,
  connectTime: timestampFromMs(T0),
  lastHeartbeatTime: timestampFromMs(NOW - 800),
});
const gone = create(WorkerSchema, {
  id: "w-0",
  host: "host-b",
  pid: 7,
  serverId: "srv-2",
  queues: ["default"],
  slots: 1,
  state: WorkerState.DISCONNECTED,
  connectTime: timestampFromMs(T0),
  lastHeartbeatTime: timestampFromMs(T0 + 1000),
  disconnectTime: timestampFromMs(T0 + 5000),
});

const paused = create(QueueSchema, {
  name: "emails",
  scheduled: 1n,
  queued: 12n,
  running: 2n,
  oldestQueuedAge: durationFromMs(90_400),
  paused: true,
  pauseTime: timestampFromMs(T0),
  workerIds: ["w-1", "w-2"],
  succeededLastMinute: 5n,
  failedLastMinute: 1n,
  succeededLastHour: 300n,
  failedLastHour: 7n,
});
const idle = create(QueueSchema, { name: "default" });

describe("fleet tables", () => {
  it("shows workers, LAST-SEEN as the heartbeat, or the disconnect once gone", () => {
    expect(formatWorkerTable([connected, gone], NOW)).toBe(
      [
        "ID              HOST    PID   SERVER  QUEUES                 SLOTS  IN-USE  STATE         CONNECTED             LAST-SEEN",
        "host-a-4242-x1  host-a  4242  srv-1   high_priority,default  10     3       CONNECTED     2030-01-02T03:04:05Z  <1s ago",
        "w-0             host-b  7     srv-2   default                1      0       DISCONNECTED  2030-01-02T03:04:05Z  1m ago",
        "",
      ].join("\n"),
    );
    expect(formatWorkerTable([], NOW)).toBe("ID  HOST  PID  SERVER  QUEUES  SLOTS  IN-USE  STATE  CONNECTED  LAST-SEEN\n");
  });

  it("shows servers", () => {
    const server = create(ServerSchema, {
      id: "srv-1",
      host: "host-a",
      pid: 99,
      version: "0.1.0",
      address: "10.0.0.5:50051",
      state: ServerState.DRAINING,
      startTime: timestampFromMs(T0),
      lastHeartbeatTime: timestampFromMs(NOW - 2_500),
      workerCount: 4,
    });
    expect(formatServerTable([server], NOW)).toBe(
      [
        "ID     HOST    PID  VERSION  ADDRESS         STATE     STARTED               LAST-SEEN  WORKERS",
        "srv-1  host-a  99   0.1.0    10.0.0.5:50051  DRAINING  2030-01-02T03:04:05Z  2s ago     4",
        "",
      ].join("\n"),
    );
  });

  it("shows queues, the oldest queued task's age in whole seconds, - for none", () => {
    expect(formatQueueTable([paused, idle])).toBe(
      [
        "QUEUE    PAUSED  SCHEDULED  QUEUED  RUNNING  OLDEST  WORKERS  OK/1M  FAILED/1M  OK/1H  FAILED/1H",
        "emails   yes     1          12      2        1m30s   2        5      1          300    7",
        "default  no      0          0       0        -       0        0      0          0      0",
        "",
      ].join("\n"),
    );
  });

  it("shows one queue's figures", () => {
    expect(formatQueueDetails(paused)).toBe(
      [
        "queue:          emails",
        "paused:         yes, since 2030-01-02T03:04:05Z",
        "scheduled:      1",
        "queued:         12",
        "running:        2",
        "oldest queued:  1m30s",
        "workers:        2 (w-1, w-2)",
        "last minute:    5 succeeded, 1 failed",
        "last hour:      300 succeeded, 7 failed",
        "",
      ].join("\n"),
    );
    expect(formatQueueDetails(idle)).toContain("paused:         no\n");
    expect(formatQueueDetails(idle)).toContain("workers:        none\n");
  });

  it("shows counts with a column per group", () => {
    const response = create(CountTasksResponseSchema, {
      counts: [
        { state: TaskState.QUEUED, type: "a.long", queue: "default", count: 12n },
        { state: TaskState.FAILED, type: "b", queue: "emails", count: 3n },
      ],
      total: 15n,
    });
    expect(formatCountTable(response, { type: true, queue: false })).toBe("STATE   TYPE    COUNT\nQUEUED  a.long  12\nFAILED  b       3\n");
    expect(formatCountTable(response, { type: true, queue: true })).toBe(
      "STATE   TYPE    QUEUE    COUNT\nQUEUED  a.long  default  12\nFAILED  b       emails   3\n",
    );
    expect(formatCountTable(create(CountTasksResponseSchema), { type: false, queue: false })).toBe("STATE  COUNT\n");
  });
});

describe("fleet helpers", () => {
  it("counts nouns", () => {
    expect(plural(1, "task")).toBe("1 task");
    expect(plural(1n, "task")).toBe("1 task");
    expect(plural(0n, "task")).toBe("0 tasks");
    expect(plural(10_000n, "running task")).toBe("10000 running tasks");
  });

  it("says how long ago, in whole seconds", () => {
    expect(formatAgo(timestampFromMs(NOW - 999), NOW)).toBe("<1s ago");
    expect(formatAgo(timestampFromMs(NOW + 5000), NOW)).toBe("<1s ago");
    expect(formatAgo(timestampFromMs(NOW - 61_900), NOW)).toBe("1m1s ago");
    expect(formatAgo(timestampFromMs(NOW - 3 * 86_400_000), NOW)).toBe("3d ago");
    expect(formatAgo(undefined, NOW)).toBe("");
    expect(formatAge(2_637)).toBe("2s");
    expect(formatAge(999)).toBe("<1s");
  });

  it("gives proto JSON, with counts and total even when zero", () => {
    expect(workersToJson([connected])).toMatchObject({ workers: [{ id: "host-a-4242-x1", state: "WORKER_STATE_CONNECTED", slotsInUse: 3 }] });
    expect(queuesToJson([paused])).toMatchObject({ queues: [{ name: "emails", queued: "12", oldestQueuedAge: "90.400s", paused: true }] });
    expect(countsToJson(create(CountTasksResponseSchema))).toEqual({ counts: [], total: "0" });
    expect(countsToJson(create(CountTasksResponseSchema, { counts: [{ state: TaskState.FAILED, count: 2n }], total: 2n }))).toEqual({
      counts: [{ state: "TASK_STATE_FAILED", count: "2" }],
      total: "2",
    });
  });
});
