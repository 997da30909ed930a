/**
 * The Taskwire server, its composition root: the task, worker, admin and schedule services on one port,
 * the dispatcher, the control plane and the periodic duties (`duties/`), over a broker and a
 * store. Each server has a random id, registers itself (`servers` table) and answers for the
 * whole fleet. Lifecycle: STARTING → SERVING → DRAINING → STOPPED. `close()` drains: new calls and workers are refused, workers are told to finish and
 * reconnect elsewhere, in-flight calls get the shutdown grace period, then everything closes.
 */
import { createMutableRegistry, type JsonReadOptions, type JsonWriteOptions } from "@bufbuild/protobuf";
import { file_google_protobuf_struct, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
// Clients of every kind (issue 5): health, reflection, google.rpc error details, deadlines, CORS.
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.js";
import { file_google_rpc_status } from "../../gen/google/rpc/status_pb.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { withCors } from "./transport/cors.js";
import { deadlineEnforcer } from "./transport/deadline.js";
import { createHealthService, HealthMonitor } from "./rpc/health-service.js";
import {
  createReflectionV1AlphaService,
  createReflectionV1Service,
  ReflectionResponder,
  ServerReflectionV1,
  ServerReflectionV1Alpha,
} from "./rpc/reflection/index.js";
// (end of issue 5 imports)
// Issue 3: access control (API keys, optional TLS).
import { authGate, authOffWarning, callerOf, CATALOG_PERMISSION, roleAllows, type Caller } from "./auth/index.js";
import { createGatedNodeAdapter, refusalInterceptor } from "./transport/gated-adapter.js";
import { loadServerSecurity, type ServerSecurity } from "./security.js";
import { createTlsServer } from "./transport/tls-server.js";
// (end of issue 3 access-control imports)
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { ScheduleService } from "../../gen/taskwire/v1/schedule_service_pb.js";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { WorkerService } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Broker, Unsubscribe } from "../broker/broker.js";
import type { ServerConfig } from "../config/config.js";
import type { Logger } from "../core/logger.js";
import type { TaskStore } from "../store/store.js";
import { cancelSweep } from "./duties/cancel-sweep.js";
import { catalogRefresh } from "./duties/catalog-refresh.js";
import { deadlines } from "./duties/deadlines.js";
import { dispatchTick } from "./duties/dispatch-tick.js";
import type { Duty } from "./duties/duty.js";
import { indexCheck } from "./duties/index-check.js";
import { leaseRenewal } from "./duties/lease-renewal.js";
import { promoter } from "./duties/promoter.js";
import { queueSettings } from "./duties/queue-settings.js";
import { limitsRefresh } from "./duties/limits-refresh.js";
import { explainTask } from "./rpc/explain-task.js";
import { MemoryBroker } from "../broker/memory/memory-broker.js";
import { reaper } from "./duties/reaper.js";
import { reconciler } from "./duties/reconciler.js";
import { retention } from "./duties/retention.js";
import { schedules } from "./duties/schedules.js";
import { serverHeartbeat } from "./duties/server-heartbeat.js";
import { AttemptRecorder } from "./engine/attempt-recorder.js";
import { Catalog } from "./engine/catalog.js";
import { TypeOwnership } from "./engine/type-ownership.js";
import { ControlPlane } from "./engine/control-plane.js";
import { Dispatcher } from "./engine/dispatcher.js";
import { StartWriter } from "./engine/start-writer.js";
import { IndexGuard } from "./engine/index-guard.js";
import { Scheduler } from "./engine/scheduler.js";
import { SessionRegistry } from "./engine/session-registry.js";
import { TaskSubmitter } from "./engine/submitter.js";
import { TaskEvents } from "./engine/task-events.js";
import { TaskLogEvents } from "./engine/task-log-events.js";
import { createAdminService } from "./rpc/admin-service.js";
import { createScheduleService } from "./rpc/schedule-service.js";
import { errorMapper } from "./rpc/error-mapper.js";
import { createTaskService } from "./rpc/task-service.js";
import { createWorkerService } from "./rpc/worker-service.js";
import { withMinimalGrpcMessage } from "./transport/grpc-message.js";
// Issue 21: metrics and traces.
import { metricsAccess } from "./observability/metrics-access.js";
import { observeBroker } from "./observability/observed-broker.js";
import { observeStore } from "./observability/observed-store.js";
import { QueueDepth } from "./observability/queue-depth.js";
import { ServerMetrics } from "./observability/server-metrics.js";
import { submitTracing } from "./observability/submit-tracing.js";
import { TaskSpans } from "./observability/task-spans.js";
import { withMetricsRoute } from "./transport/metrics-route.js";
// (end of issue 21 imports)
// Issue 22: the dashboard and its overview counters.
import { dashboardRoute, defaultDashboardDir } from "./transport/dashboard-route.js";
import { MinuteCounters } from "./observability/minute-counters.js";
import { minuteStatsFlush } from "./duties/minute-stats-flush.js";
// (end of issue 22 imports)
import { createDualProtocolServer } from "./transport/http-server.js";
import { ConnectError, Code, type Interceptor } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";

/** Whether `caller` has a key whose role has `permission`. */
function roleMay(caller: Caller | undefined, permission: typeof CATALOG_PERMISSION): boolean {
  return caller !== undefined && roleAllows(caller.role, permission);
}

/** Where the server is in its lifecycle. */
export type ServerState = "STARTING" | "SERVING" | "DRAINING" | "STOPPED";

/** A running server. */
export interface TaskwireServer {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  readonly state: ServerState;
  /** Drains and stops; safe to call twice. Closes the broker and store it was given. */
  close(): Promise<void>;
}

/** What an application embedding Taskwire may add to its server. */
export interface ServerExtensions {
  /**
   * Connect interceptors around every call of the server's services (README "Embedding the
   * server"), first outermost. They run inside the server's own: after the API key is checked
   * (`callerOf({ values: request.contextValues })` gives the caller) and the deadline set, and
   * anything they throw is answered like the services' errors: a `ConnectError` as it is, any
   * other error as `INTERNAL` without its message. The one extension point of the server.
   * @default none
   */
  interceptors?: readonly Interceptor[];
}

/**
 * Starts a server on an open broker and a migrated store. `parts.security` (keys and TLS) is
 * loaded from `config` when not given; `parts.metrics` (the series of `GET /metrics`) is made
 * when not given. The broker and store are used through decorators that feed the metrics and
 * traces (`observability/`).
 */
export async function createTaskwireServer(
  config: ServerConfig,
  parts: { broker: Broker; store: TaskStore; logger: Logger; security?: ServerSecurity; metrics?: ServerMetrics } & ServerExtensions,
): Promise<TaskwireServer> {
  const security = parts.security ?? (await loadServerSecurity(config)); // issue 3: access control
  const authorizeMetrics = metricsAccess(security.auth, config.metricsAuth);
  const metrics = parts.metrics ?? new ServerMetrics();
  const broker = observeBroker(parts.broker, metrics, parts.logger);
  const minuteCounters = new MinuteCounters(); // issue 22: GetOverview's per-minute counters
  const store = observeStore(parts.store, metrics, new TaskSpans(), parts.logger, minuteCounters);
  let state: ServerState = "STARTING";
  const serverId = randomUUID();
  const startedAt = new Date();
  const logger = parts.logger.child({ serverId });

  const jsonRegistry = createMutableRegistry(file_google_protobuf_struct.messages[0]!);
  for (const file of [file_google_protobuf_struct, file_google_protobuf_wrappers]) {
    for (const message of file.messages) jsonRegistry.add(message);
  }
  const catalog = new Catalog(store, config.maxInputBytes, jsonRegistry);
  await catalog.loadAll();
  const events = new TaskEvents(broker, logger);
  const logEvents = new TaskLogEvents(broker, logger);
  const sessions = new SessionRegistry();
  // Issue 16: attempts start in the claim; PostgreSQL learns the starts later, or with the outcomes.
  const starts = new StartWriter(store, logger, (start) => {
    const session = sessions.holding(start.id);
    if (session?.take(start.id, start.attempt) === undefined) return;
    session.cancel([{ taskId: start.id, attempt: start.attempt }], "the task was cancelled as it was handed out");
  });
  const recorder = new AttemptRecorder(store, broker, events, logger, starts);
  const guard = new IndexGuard(broker, store, logger, { leaseTimeoutMs: config.leaseTimeoutMs });
  const dispatcher = new Dispatcher(sessions, broker, store, starts, events, config.leaseTimeoutMs, logger, () => guard.indexBuiltAt());
  const promotion = promoter({ broker, store, logger });
  const settings = queueSettings({ store, dispatcher, logger });
  const limits = limitsRefresh({ store, broker, logger }); // issue 19: dispatch limits
  const control = new ControlPlane(broker, serverId, sessions, store, {
    queuesChanged: () => void settings.refresh().catch((error: unknown) => logger.warn({ err: error }, "could not read queue settings")),
    limitsChanged: () => void limits.refresh().catch((error: unknown) => logger.warn({ err: error }, "could not read the dispatch limits")),
    workerDraining: (workerId, sessionId) =>
      void store.markWorkerDraining(workerId, sessionId).catch((error: unknown) => logger.warn({ err: error, workerId }, "could not record the worker as draining")),
  }, logger);
  // The submission path, shared by the task service and the scheduler (issue 18: schedules).
  const submitter = new TaskSubmitter({
    store,
    broker,
    events,
    control,
    logger,
    onScheduled: (runAt) => promotion.schedule(runAt),
    onIndexWriteFailed: (reason) => guard.requestRepair(reason), // issue 3: recovery
  });
  const scheduler = new Scheduler({ store, catalog, submitter, logger });
  const workers = createWorkerService({
    store,
    sessions,
    serverId,
    catalog,
    dispatcher,
    recorder,
    starts,
    events,
    logEvents, // issue 17: stored logs
    logger,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    leaseTimeoutMs: config.leaseTimeoutMs,
    isDraining: () => state !== "SERVING",
    limits: config, // issue 15: Hello, progress and log bounds
    scheduler,
    ownership: new TypeOwnership(store, catalog, logger), // issue 15: task types owned by their key
  });
  const tasks = createTaskService({
    store,
    catalog,
    events,
    logEvents, // issue 17: stored logs
    logger,
    submitter,
    leaseTimeoutMs: config.leaseTimeoutMs,
    maxParents: config.maxParents,
    // Issue 19: why a task is not running.
    explain: (task) =>
      explainTask(
        {
          store,
          isPaused: (queue) => dispatcher.isPaused(queue),
          limits: () => limits.current(),
          limitGate: parts.broker instanceof MemoryBroker ? (queue) => (parts.broker as MemoryBroker).limitGate(queue) : undefined,
          leaseTimeoutMs: config.leaseTimeoutMs,
        },
        task,
        Date.now(),
      ),
    maxSubscribersPerTask: config.maxSubscribersPerTask,
    maxSubscribersPerKey: config.maxSubscribersPerKey,
    maxSubscribers: config.maxSubscribers,
  });
  const admin = createAdminService({
    store,
    broker,
    events,
    control,
    onQueuesChanged: () => settings.refresh(),
    onLimitsChanged: async () => {
      await limits.refresh();
      await control.limitsChanged();
    },
    leaseTimeoutMs: config.leaseTimeoutMs,
    logger,
    principals: security.auth.kind === "keys" ? security.auth.keys.principals() : new Set(), // issue 15: type transfers
  });

  let address = "";
  const heartbeat = serverHeartbeat({
    serverId,
    address: () => address,
    state: () => (state === "SERVING" || state === "STARTING" ? "SERVING" : "DRAINING"),
    startedAt,
    store,
    sessions,
    logger,
  });
  // The periodic duties (one file each in duties/); see duty.ts.
  const duties: Duty[] = [
    leaseRenewal({
      broker,
      store,
      sessions,
      recorder,
      claimedLeases: () => dispatcher.claimedLeases(),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      leaseTimeoutMs: config.leaseTimeoutMs,
      loseSession: (session, reason) => {
        session.logger.warn({ reason }, "worker stalled; its attempts are requeued");
        void workers.closeSession(session, new ConnectError(`stalled: ${reason}`, Code.DeadlineExceeded));
      },
      logger,
    }),
    deadlines({ sessions, recorder, heartbeatIntervalMs: config.heartbeatIntervalMs, timeoutGraceMs: config.timeoutGraceMs, logger }),
    reaper({ broker, store, sessions, recorder, isClaimed: (id) => dispatcher.isClaimed(id), leaseTimeoutMs: config.leaseTimeoutMs, indexBuiltAt: () => guard.indexBuiltAt(), logger }),
    promotion,
    dispatchTick({ dispatcher, logger }),
    indexCheck({ guard, dispatcher, promoter: promotion, logger }),
    reconciler({ broker, store, serverId, logger, onIndexed: () => promotion.schedule(Date.now()) }),
    catalogRefresh({ catalog, logger }),
    settings,
    limits,
    cancelSweep({ store, sessions, logger }),
    retention({ store, broker, serverId, retainFinishedMs: config.retainFinishedMs, logger }),
    schedules({ scheduler, broker, serverId, logger }),
    minuteStatsFlush({ store, counters: minuteCounters, logger }),
    heartbeat,
  ];

  // Issue 5: health and reflection.
  const health = new HealthMonitor({ broker, store, isServing: () => state === "SERVING", logger });
  let catalogReload: Promise<void> | undefined;
  const reflection = new ReflectionResponder({
    services: [TaskService, WorkerService, AdminService, ScheduleService, Health, ServerReflectionV1, ServerReflectionV1Alpha],
    extraFiles: [file_google_rpc_status, file_google_rpc_error_details],
    catalogFiles: () => catalog.files(),
    // Worker-declared types to callers that may list them (ListTypes), when keys are checked.
    catalogVisible: (context) => security.auth.kind === "off" || roleMay(callerOf(context), CATALOG_PERMISSION),
    refreshCatalog: () => (catalogReload ??= catalog.loadAll().finally(() => (catalogReload = undefined))),
  });

  // Keys are checked from the headers, before any request body is read (issue 15).
  const handler = createGatedNodeAdapter({
    gate: authGate(security.auth, logger),
    routes: (router) => {
      router.service(TaskService, tasks);
      router.service(WorkerService, workers.impl);
      router.service(AdminService, admin);
      router.service(ScheduleService, createScheduleService(scheduler));
      router.service(Health, createHealthService(health));
      router.service(ServerReflectionV1, createReflectionV1Service(reflection));
      router.service(ServerReflectionV1Alpha, createReflectionV1AlphaService(reflection));
    },
    // The error mapper is outermost, so it also maps the gate's refusals (thrown by refusalInterceptor).
    interceptors: [errorMapper(logger), refusalInterceptor, deadlineEnforcer(), submitTracing(), ...(parts.interceptors ?? [])],
    readMaxBytes: config.maxMessageBytes,
    writeMaxBytes: config.maxMessageBytes,
    // Paths that name no procedure: the dashboard's files (issue 22), else 404.
    fallback: dashboardRoute({ dir: config.dashboardDir ?? defaultDashboardDir(), enabled: config.dashboard === "on" }),
    // Strict JSON: an unknown field or enum name is refused (INVALID_ARGUMENT) rather than
    // dropped, since a dropped `states` filter would list every task and a dropped field of a
    // newer client would be silently not applied; a body that is not UTF-8 is refused rather
    // than read with U+FFFD in place of its bad bytes. (`textDecoder` is read by connect's JSON
    // serialization though its options type does not declare it.)
    jsonOptions: { registry: jsonRegistry, ignoreUnknownFields: false, textDecoder: new TextDecoder("utf-8", { fatal: true }) } as Partial<JsonReadOptions & JsonWriteOptions>,
  });
  const queueDepth = new QueueDepth(broker, logger);
  metrics.bind({
    workers: () => {
      let slots = 0;
      let slotsUsed = 0;
      for (const session of sessions.all()) {
        slots += session.slots;
        slotsUsed += session.heldCount;
      }
      return { connected: sessions.size, slots, slotsUsed };
    },
    pendingOutcomes: () => recorder.pendingCount,
    queueDepth: () => queueDepth.read(),
  });
  const serve = withMetricsRoute(withCors(withMinimalGrpcMessage(handler), config.corsOrigins), {
    render: () => metrics.render(),
    authorize: authorizeMetrics,
  });
  const http = security.tls ? createTlsServer(serve, security.tls, config) : createDualProtocolServer(serve, config);

  let unsubscribeWake: Unsubscribe | undefined;
  let port: number;
  try {
    unsubscribeWake = await broker.onWake((queue) => dispatcher.wake(queue));
    await control.start();
    // Paused queues apply before the first worker can connect.
    await settings.refresh();
    await limits.refresh();
    for (const duty of duties) duty.start();
    port = await http.listen(config.host, config.port);
    address = `${config.host}:${port}`;
    await heartbeat.beat();
  } catch (error) {
    await Promise.all(duties.map((duty) => duty.close()));
    await control.close();
    await unsubscribeWake?.();
    throw error;
  }
  state = "SERVING";
  logger.info({ host: config.host, port, tls: security.tls !== undefined, auth: security.auth.kind }, "taskwire server listening");
  if (security.auth.kind === "off") logger.warn(authOffWarning(config.host, port, security.auth.exposed));

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    state = "DRAINING";
    health.notify();
    void heartbeat.beat().catch(() => undefined);
    logger.info({ workers: sessions.size }, "draining: workers are asked to finish and reconnect elsewhere");
    for (const session of sessions.all()) session.drain("the server is shutting down");
    const deadline = Date.now() + config.shutdownGraceMs;
    // Issue 3 (recovery): stop accepting at once (no new connection; GOAWAY on open ones, so a
    // worker reconnects through the load balancer to another server) while open calls, the
    // workers' streams among them, go on for the grace period.
    const httpClosed = http.close(config.shutdownGraceMs);
    // Results still being recorded (PostgreSQL unavailable) get the grace too.
    while ((sessions.anyHeld() || recorder.pendingCount > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    recorder.close();
    await Promise.all(sessions.all().map((s) => workers.closeSession(s)));
    await starts.flush();
    starts.close();
    health.close();
    await httpClosed;
    await Promise.all(duties.map((duty) => duty.close()));
    await dispatcher.close();
    await control.close();
    await unsubscribeWake?.();
    await broker.close();
    await store.close();
    state = "STOPPED";
    logger.info("taskwire server stopped");
  };

  return {
    port,
    get state() {
      return state;
    },
    close() {
      closing ??= close();
      return closing;
    },
  };
}
