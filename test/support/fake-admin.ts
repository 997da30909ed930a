/**
 * An in-memory AdminService with a fixed fleet (two workers, one server, two queues), recording
 * every request: for the client SDK's tests (through a router transport) and the CLI's (on a
 * real h2c port, as `taskwire --url` reaches it). No store, no broker.
 */
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ServiceImpl, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  AdminService,
  QueueSchema,
  ServerSchema,
  ServerState,
  WorkerSchema,
  WorkerState,
  type Queue,
  type Worker,
} from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";

/** 2030-01-02T03:04:05Z: the fixed times of the fake fleet are offsets from it. */
export const T0 = Date.parse("2030-01-02T03:04:05Z");

/** A request the fake answered: the method's local name and the request message. */
export interface RecordedCall {
  method: string;
  request: MessageShape<DescMessage>;
  authorization: string | null;
}

function worker(id: string, state: WorkerState, slotsInUse: number): Worker {
  return create(WorkerSchema, {
    id,
    host: "host-a",
    pid: 4242,
    sdk: "taskwire-ts/0.1.0",
    serverId: "srv-1",
    queues: ["high_priority", "default"],
    types: ["test.echo"],
    slots: 10,
    slotsInUse,
    state,
    connectTime: timestampFromMs(T0),
    // "<1s ago" whenever the CLI prints it.
    lastHeartbeatTime: timestampNow(),
    disconnectTime: state === WorkerState.DISCONNECTED ? timestampNow() : undefined,
  });
}

function queue(name: string, paused: boolean): Queue {
  return create(QueueSchema, {
    name,
    scheduled: 1n,
    queued: 12n,
    running: 2n,
    oldestQueuedAge: durationFromMs(90_000),
    paused,
    pauseTime: paused ? timestampFromMs(T0) : undefined,
    workerIds: ["w-1"],
    succeededLastMinute: 5n,
    failedLastMinute: 1n,
    succeededLastHour: 300n,
    failedLastHour: 7n,
  });
}

/** The fake service; `calls` lists what it was asked, oldest first. */
export function fakeAdminService(): { impl: ServiceImpl<typeof AdminService>; calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const record = (method: string, request: MessageShape<DescMessage>, header: Headers): void => {
    calls.push({ method, request, authorization: header.get("authorization") });
  };
  const impl: ServiceImpl<typeof AdminService> = {
    listWorkers(request, ctx) {
      record("listWorkers", request, ctx.requestHeader);
      const workers = [worker("w-1", WorkerState.CONNECTED, 3)];
      if (request.includeDisconnected) workers.push(worker("w-0", WorkerState.DISCONNECTED, 0));
      return { workers };
    },
    getWorker(request, ctx) {
      record("getWorker", request, ctx.requestHeader);
      if (request.id !== "w-1") throw new ConnectError(`no worker ${request.id}`, Code.NotFound);
      return { worker: worker("w-1", WorkerState.CONNECTED, 3) };
    },
    drainWorker(request, ctx) {
      record("drainWorker", request, ctx.requestHeader);
      if (request.id !== "w-1") throw new ConnectError(`no connected worker ${request.id}`, Code.NotFound);
      return { worker: worker("w-1", WorkerState.DRAINING, 3) };
    },
    listServers(request, ctx) {
      record("listServers", request, ctx.requestHeader);
      const server = create(ServerSchema, {
        id: "srv-1",
        host: "host-a",
        pid: 99,
        version: "0.1.0",
        address: "127.0.0.1:50051",
        state: ServerState.SERVING,
        startTime: timestampFromMs(T0),
        lastHeartbeatTime: timestampNow(),
        workerCount: 1,
      });
      return { servers: [server] };
    },
    listQueues(request, ctx) {
      record("listQueues", request, ctx.requestHeader);
      return { queues: [queue("default", false), queue("emails", true)] };
    },
    getQueue(request, ctx) {
      record("getQueue", request, ctx.requestHeader);
      return { queue: queue(request.name, false) };
    },
    pauseQueue(request, ctx) {
      record("pauseQueue", request, ctx.requestHeader);
      return { queue: queue(request.name, true) };
    },
    resumeQueue(request, ctx) {
      record("resumeQueue", request, ctx.requestHeader);
      return { queue: queue(request.name, false) };
    },
    purgeQueue(request, ctx) {
      record("purgeQueue", request, ctx.requestHeader);
      return { cancelled: 13n };
    },
    countTasks(request, ctx) {
      record("countTasks", request, ctx.requestHeader);
      return {
        counts: [
          { state: TaskState.QUEUED, type: "test.echo", queue: "default", count: 12n },
          { state: TaskState.FAILED, type: "test.broken", queue: "default", count: 3n },
        ],
        total: 15n,
      };
    },
    retryTasks(request, ctx) {
      record("retryTasks", request, ctx.requestHeader);
      return { retried: request.ids.length > 0 ? BigInt(request.ids.length) : 10_000n };
    },
    cancelTasks(request, ctx) {
      record("cancelTasks", request, ctx.requestHeader);
      return { cancelled: 4n, cancelling: request.ids.length > 0 ? 0n : 2n };
    },
    deleteTasks(request, ctx) {
      record("deleteTasks", request, ctx.requestHeader);
      return { deleted: 1n };
    },
    transferTaskType(request, ctx) {
      record("transferTaskType", request, ctx.requestHeader);
      if (request.name !== "test.echo") throw new ConnectError(`task type "${request.name}" is not known`, Code.NotFound);
      return { type: { name: request.name, inputType: "google.protobuf.Struct", outputType: "google.protobuf.Struct", owner: request.owner, workerCount: 1 } };
    },
    resetTaskType(request, ctx) {
      record("resetTaskType", request, ctx.requestHeader);
      return { type: { name: request.name, inputType: "google.protobuf.Struct", outputType: "google.protobuf.Struct", owner: "", workerCount: 1 } };
    },
    getOverview(request, ctx) {
      record("getOverview", request, ctx.requestHeader);
      return { backlog: [], minutes: [], workers: 1, slots: 3, slotsInUse: 0, servers: 1, pausedQueues: [] };
    },
    getCaller(request, ctx) {
      record("getCaller", request, ctx.requestHeader);
      return { auth: false, keyId: "", role: "", permissions: [] };
    },
    setLimit(request, ctx) {
      record("setLimit", request, ctx.requestHeader);
      return { limit: { target: request.target, effective: request.limits, override: request.limits } };
    },
    clearLimit(request, ctx) {
      record("clearLimit", request, ctx.requestHeader);
      return { limit: { target: request.target, effective: {} } };
    },
    listLimits(request, ctx) {
      record("listLimits", request, ctx.requestHeader);
      return {
        limits: [
          {
            target: { case: "type", value: "mirror.repository" },
            effective: { concurrency: 10, perKey: 2 },
            declared: { concurrency: 4 },
            override: { concurrency: 10, perKey: 2 },
          },
          { target: { case: "queue", value: "email" }, effective: { rate: { count: 10, interval: { seconds: 1n, nanos: 0 } } } },
        ],
      };
    },
  };
  return { impl, calls };
}

/** The fake behind an in-memory transport (for `createClient({ transport })`). */
export function fakeAdminTransport(): { transport: Transport; calls: RecordedCall[] } {
  const { impl, calls } = fakeAdminService();
  return { transport: createRouterTransport(({ service }) => service(AdminService, impl)), calls };
}

/** The fake on an h2c port of 127.0.0.1, as the CLI reaches a server. */
export async function startFakeAdminServer(): Promise<{ url: string; calls: RecordedCall[]; close(): Promise<void> }> {
  const { impl, calls } = fakeAdminService();
  const server: Http2Server = createServer(connectNodeAdapter({ routes: (router) => router.service(AdminService, impl) }));
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.close();
        server.close(() => resolve());
      }),
  };
}
