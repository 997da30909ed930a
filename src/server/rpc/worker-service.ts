/**
 * `taskwire.v1.WorkerService`: one bidirectional stream per worker process. The first message
 * is Hello; the server answers Welcome, then assigns tasks into granted slots and forwards
 * cancels and drains, while the worker's reports are checked against the attempts it holds.
 */
import { ConnectError, Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { randomUUID } from "node:crypto";
import type {
  WorkerService} from "../../../gen/taskwire/v1/worker_service_pb.js";
import {
  type CompleteReport,
  type ConnectRequest,
  type ConnectResponse,
  type Hello,
  type LogReport,
  type ProgressReport,
  type Release,
  ReportKind,
  type TaskResult,
} from "../../../gen/taskwire/v1/worker_service_pb.js";
import { Code as RpcCode } from "../../../gen/google/rpc/code_pb.js";
import { AlreadyExistsError, PermissionDeniedError, UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { Batcher } from "../../core/batcher.js";
import type { AttemptError, ProgressWrite } from "../../core/task-types.js";
import type { DescMessage } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { TaskStore, AttemptOutcome } from "../../store/store.js";
import type { AttemptRecorder } from "../engine/attempt-recorder.js";
import type { StartWriter } from "../engine/start-writer.js";
import type { Catalog } from "../engine/catalog.js";
import { progressFromProto, stateToProto } from "../convert.js";
import type { Dispatcher } from "../engine/dispatcher.js";
import { serverError } from "../engine/server-error.js";
import type { TaskEvents } from "../engine/task-events.js";
import type { TaskLogEvents } from "../engine/task-log-events.js";
import { TaskLogWriter } from "../engine/task-log-writer.js";
import { storableJson } from "../../core/storable-text.js";
import type { JsonObject } from "@bufbuild/protobuf";
import type { SessionRegistry } from "../engine/session-registry.js";
import { WorkerSession } from "../engine/worker-session.js";
import { attemptErrorOf } from "./task-failure.js";
import { parseHello } from "./hello.js";
import { storableText } from "../../core/storable-text.js";
import { DEFAULT_WORKER_LIMITS, outputProblem, RefusalNotices, ReportGate, type WorkerLimits } from "./worker-reports.js";
import type { Scheduler } from "../engine/scheduler.js";
import { declaredSchedules } from "./schedule-convert.js";
import { callerOf, type Caller } from "../auth/index.js";
import type { Declarer, TypeOwnership } from "../engine/type-ownership.js";

/** What the worker service needs from the rest of the server. */
export interface WorkerServiceDeps {
  store: TaskStore;
  /** The sessions of this server (the worker service adds and removes them). */
  sessions: SessionRegistry;
  /** This server's id, recorded with each worker it holds. */
  serverId: string;
  catalog: Catalog;
  dispatcher: Dispatcher;
  recorder: AttemptRecorder;
  /** Starts not written yet (issue 16): a progress report has its attempt's start written first. */
  starts: StartWriter;
  events: TaskEvents;
  /** Live log lines of tasks: the lines stored are published here (issue 17: stored logs). */
  logEvents: TaskLogEvents;
  logger: Logger;
  heartbeatIntervalMs: number;
  leaseTimeoutMs: number;
  /** True once the server started draining: new streams are refused. */
  isDraining: () => boolean;
  /** Bounds of Hello and of the workers' reports (`ServerConfig`). @default DEFAULT_WORKER_LIMITS */
  limits?: WorkerLimits;
  /** Upserts the schedules workers declare with their types. */
  scheduler: Scheduler;
  /** Who owns the task types declared (issue 15): checks and claims each Hello's types. */
  ownership: TypeOwnership;
}

/** Who declares a Hello's types, for {@link TypeOwnership.admit}. */
function declarerOf(caller: Caller | undefined): Declarer {
  if (caller === undefined) return { kind: "anyone" };
  return caller.role === "admin" ? { kind: "admin", keyId: caller.keyId } : { kind: "key", keyId: caller.keyId, principal: caller.principal };
}

/** The refusal of a worker id bound to another key (or key group). */
function workerIdTaken(workerId: string, caller: Caller | undefined): PermissionDeniedError {
  return new PermissionDeniedError(
    "WORKER_ID_TAKEN",
    `worker id "${workerId}" is bound to another API key (or key group) than "${caller?.keyId ?? ""}"; connect with another --worker-id`,
  );
}

/**
 * A worker's result as the outcome to record. An output that is not a message of the type's
 * declared output type (`declared`, from the catalog) fails the attempt, not retryable: stored,
 * it could never be read back (every JSON `GetResult` of the task would fail). @returns the
 * outcome, and why the output was refused, if it was.
 */
function outcomeOf(
  r: TaskResult,
  workerId: string,
  declared: { output: DescMessage; type: string } | undefined,
): { outcome: AttemptOutcome; refused?: string } {
  const base = { id: r.taskId, attempt: r.attempt };
  switch (r.outcome.case) {
    case "output": {
      const problem = declared && outputProblem(r.outcome.value, declared.output, declared.type);
      if (problem !== undefined) {
        const error: AttemptError = {
          attempt: r.attempt,
          kind: "TASK_ERROR",
          name: "InvalidOutput",
          message: problem,
          retryable: false,
          workerId,
          time: new Date().toISOString(),
        };
        return { outcome: { kind: "failed", ...base, error }, refused: problem };
      }
      return { outcome: { kind: "succeeded", ...base, outputTypeUrl: r.outcome.value.typeUrl, output: r.outcome.value.value } };
    }
    case "cancelled":
      return { outcome: { kind: "cancelled", ...base, reason: storableText(r.outcome.value.slice(0, 1000)) } };
    default:
      return { outcome: { kind: "failed", ...base, error: attemptErrorOf(r.outcome.value, r.attempt, workerId) } };
  }
}

/** The worker service and the handles the rest of the server needs on its sessions. */
export interface WorkerServiceHandle {
  impl: ServiceImpl<typeof WorkerService>;
  /** Ends a session (stalled worker, shutdown); its attempts are lost and retried. */
  closeSession(session: WorkerSession, error?: unknown): Promise<void>;
}

/** Builds the service implementation. */
export function createWorkerService(deps: WorkerServiceDeps): WorkerServiceHandle {
  const limits = deps.limits ?? DEFAULT_WORKER_LIMITS;
  /** Each session's report checks (issue 15: resource limits). */
  const gates = new WeakMap<WorkerSession, ReportGate>();
  const progressWriter = new Batcher(
    async (updates: ProgressWrite[]) => {
      const saved = new Set(await deps.store.saveProgress(updates));
      return updates.map((u) => saved.has(u.id));
    },
    { maxBatch: 1000 },
  );
  const logWriter = new TaskLogWriter(deps.store, deps.logEvents, { maxLines: limits.maxTaskLogLines, maxBytes: limits.maxTaskLogBytes }, deps.logger);

  /**
   * Opens a worker's session from its Hello, as `caller` (undefined: authentication is off).
   * Worker ids and task types are checked against their owners first (issue 15): a worker id
   * bound to another key's principal is refused with PERMISSION_DENIED before anything else, so
   * that another key can neither take it nor lock its worker out (ALREADY_EXISTS); the types are
   * admitted by {@link TypeOwnership}. Admin keys are checked against no owner and bind nothing.
   */
  async function open(hello: Hello, caller: Caller | undefined): Promise<WorkerSession> {
    if (deps.isDraining()) throw new UnavailableError("SHUTTING_DOWN", "the server is draining; connect to another server");
    const types = parseHello(hello, deps.limits);
    const alreadyConnected = () =>
      new AlreadyExistsError("WORKER_ALREADY_CONNECTED", `worker id "${hello.workerId}" is already connected to this server`);
    /** The principal the worker id is to be bound to: none for admin keys and without authentication. */
    const binding = caller !== undefined && caller.role !== "admin" ? caller.principal : undefined;
    if (binding !== undefined) {
      const bound = await deps.store.workerOwner(hello.workerId);
      if (bound !== undefined && bound !== null && bound !== binding) throw workerIdTaken(hello.workerId, caller);
    }
    if (deps.sessions.has(hello.workerId)) throw alreadyConnected();
    const now = new Date();
    const schedules = declaredSchedules(hello);
    await deps.ownership.admit(types, declarerOf(caller), now);
    await deps.catalog.declare(types, now);
    await deps.scheduler.declare(schedules);
    const session = new WorkerSession(randomUUID(), hello, deps.logger.child({ workerId: hello.workerId }));
    if (!deps.sessions.add(session)) throw alreadyConnected();
    try {
      // Bound in the same statement (guarded): another key racing for a new id loses here.
      if (!(await recordConnection(session, hello, types, now, binding))) throw workerIdTaken(hello.workerId, caller);
    } catch (error) {
      deps.sessions.remove(session);
      throw error;
    }
    return session;
  }

  /** Records the worker; false when its id is bound to another principal than `binding` (nothing written). */
  async function recordConnection(session: WorkerSession, hello: Hello, types: readonly { name: string }[], now: Date, binding: string | undefined): Promise<boolean> {
    return deps.store.upsertWorker({
      id: hello.workerId,
      host: hello.host,
      pid: hello.pid,
      queues: [...hello.queues],
      slots: hello.slots,
      types: types.map((t) => t.name),
      sdk: hello.sdk,
      sessionId: session.sessionId,
      connectedAt: now,
      lastSeenAt: now,
      disconnectedAt: null,
      serverId: deps.serverId,
      state: "CONNECTED",
    }, binding);
  }

  /** Ends a session: its attempts are lost (and retried per their policy). Safe to call twice. */
  async function close(session: WorkerSession, error?: unknown): Promise<void> {
    if (!deps.sessions.remove(session)) return;
    session.close(error);
    gates.get(session)?.notices.close();
    const held = session.takeAll();
    const lost = held.map(([id, h]) =>
      deps.recorder.recordDurably(
        {
          kind: "failed",
          id,
          attempt: h.attempt,
          error: serverError(h.attempt, "WORKER_LOST", "the worker's stream closed while the attempt ran", session.workerId),
        },
        h.queue,
      ),
    );
    const results = await Promise.allSettled([...lost, deps.store.markWorkerDisconnected(session.workerId, session.sessionId, new Date())]);
    for (const r of results) if (r.status === "rejected") session.logger.warn({ err: r.reason }, "could not record a lost worker's state");
    if (held.length > 0) session.logger.warn({ tasks: held.length }, "worker left with running tasks; they are requeued");
    else session.logger.info("worker disconnected");
    deps.dispatcher.kick();
  }

  /**
   * Records a worker's results, each fenced by the attempt the session holds, and acknowledges
   * them once recorded (stale ones at once). While PostgreSQL is unavailable the results are
   * retried (`AttemptRecorder.recordDurably`) and their leases kept; the worker keeps them
   * until acknowledged, so none is lost and no task runs again.
   */
  async function onComplete(session: WorkerSession, report: CompleteReport): Promise<void> {
    const outcomes: { outcome: AttemptOutcome; queue: string }[] = [];
    const earlier: Promise<unknown>[] = [];
    for (const r of report.results) {
      const held = session.take(r.taskId, r.attempt);
      if (held === undefined) {
        // Sent again (e.g. after a reconnection) while the first copy is still being recorded:
        // acknowledged once that is done.
        const recording = deps.recorder.recording(r.taskId, r.attempt);
        if (recording !== undefined) earlier.push(recording);
        else session.logger.warn({ taskId: r.taskId, attempt: r.attempt }, "ignored a result for an attempt the worker does not hold");
        continue;
      }
      const entry = deps.catalog.peek(held.type) ?? (await deps.catalog.get(held.type).catch(() => undefined));
      const { outcome, refused } = outcomeOf(r, session.workerId, entry && { output: entry.output, type: held.type });
      if (refused !== undefined) {
        gateOf(session).notices.add({
          report: ReportKind.RESULT,
          taskId: r.taskId,
          attempt: r.attempt,
          code: RpcCode.INVALID_ARGUMENT,
          message: `${refused}; the attempt failed (InvalidOutput, not retryable)`,
        });
      }
      outcomes.push({ queue: held.queue, outcome });
    }
    // The last progress of an attempt is written before its outcome, so the final record (and
    // the terminal event) carries it.
    // Its log lines too, so a follower that reads the log after the terminal event has them all.
    await Promise.all(outcomes.flatMap((o) => [session.progressWrites.get(o.outcome.id), logWriter.flushed(o.outcome.id)]));
    await Promise.all([...outcomes.map((o) => deps.recorder.recordDurably(o.outcome, o.queue)), ...earlier]);
    session.ack(report.results.map((r) => ({ taskId: r.taskId, attempt: r.attempt })));
  }

  /**
   * Hands held attempts back unstarted (`Release`): each is recorded as released (queued again,
   * its attempt not counted) and acknowledged once recorded, like a result.
   */
  async function onRelease(session: WorkerSession, release: Release): Promise<void> {
    const reason = storableText(release.reason.slice(0, 200)) || "no reason given";
    const recorded: Promise<unknown>[] = [];
    for (const ref of release.tasks) {
      const held = session.take(ref.taskId, ref.attempt);
      if (held === undefined) {
        const recording = deps.recorder.recording(ref.taskId, ref.attempt);
        if (recording !== undefined) recorded.push(recording);
        else session.logger.warn({ taskId: ref.taskId, attempt: ref.attempt }, "ignored a release of an attempt the worker does not hold");
        continue;
      }
      const outcome: AttemptOutcome = {
        kind: "released",
        id: ref.taskId,
        attempt: ref.attempt,
        reason: `cancelled before it started (the worker released it: ${reason})`,
      };
      recorded.push(deps.recorder.recordDurably(outcome, held.queue));
    }
    if (recorded.length > 0) session.logger.info({ tasks: release.tasks.length, reason }, "worker released unstarted attempts; they are queued again");
    await Promise.all(recorded);
    session.ack(release.tasks.map((r) => ({ taskId: r.taskId, attempt: r.attempt })));
    deps.dispatcher.kick();
  }

  /** The report checks of a session (its rate budgets and pending refusals), made on first use. */
  function gateOf(session: WorkerSession): ReportGate {
    let gate = gates.get(session);
    if (gate === undefined) {
      gate = new ReportGate(limits, new RefusalNotices((items) => session.refused(items), session.logger));
      gates.set(session, gate);
    }
    return gate;
  }

  function onProgress(session: WorkerSession, report: ProgressReport): void {
    const now = new Date();
    for (const u of report.updates) {
      if (!session.holds(u.taskId, u.attempt) || (!u.progress && !u.context)) {
        session.logger.warn({ taskId: u.taskId, attempt: u.attempt }, "ignored progress for an attempt the worker does not hold");
        continue;
      }
      // Rate, then progress (size, percent, time, JSON numbers) and context (size, JSON numbers),
      // each refused on its own (the stream goes on).
      const accepted = gateOf(session).update(u, now.getTime());
      if (accepted === undefined) continue;
      const progress = accepted.progress && progressFromProto(accepted.progress, now);
      const context = accepted.context && (storableJson(accepted.context) as JsonObject);
      // The row must hold the attempt (RUNNING) for the progress to land: its start first (issue 16).
      const saved = deps.starts.written(u.taskId).then(() => progressWriter.add({ id: u.taskId, attempt: u.attempt, ...(progress && { progress }), ...(context && { context }) })).then(
        () => undefined,
        (error: unknown) => session.logger.warn({ err: error, taskId: u.taskId }, "could not persist progress"),
      );
      session.progressWrites.set(u.taskId, saved);
      void saved.finally(() => {
        if (session.progressWrites.get(u.taskId) === saved) session.progressWrites.delete(u.taskId);
      });
      deps.events.publish([
        {
          $typeName: "taskwire.v1.StreamProgressResponse",
          taskId: u.taskId,
          state: stateToProto("RUNNING"),
          attempt: u.attempt,
          progress: accepted.progress && { ...accepted.progress, updateTime: accepted.progress.updateTime ?? timestampFromDate(now) },
          time: timestampFromDate(now),
          context,
        },
      ]);
    }
  }

  /**
   * Checks each line (cut to the line limit; over the rate or with a bad time: refused) and
   * stores it (issue 17: stored logs). The worker's own log has the lines already; the server's
   * log has them at `debug` only, so that `taskwire dev` (server and worker in one process)
   * prints each line once.
   */
  function onLog(session: WorkerSession, report: LogReport): void {
    const gate = gateOf(session);
    const now = new Date();
    for (const entry of report.entries) {
      if (!session.holds(entry.taskId, entry.attempt)) {
        session.logger.warn({ taskId: entry.taskId, attempt: entry.attempt }, "ignored a log line for an attempt the worker does not hold");
        continue;
      }
      const line = gate.log(entry, now.getTime());
      if (line === undefined) continue;
      session.logger.debug({ taskId: entry.taskId, attempt: entry.attempt, source: "task", level: line.level, fields: line.fields }, line.message);
      logWriter.add({
        taskId: entry.taskId,
        attempt: entry.attempt,
        level: line.level,
        message: storableText(line.message),
        ...(line.fields && { fields: storableJson(line.fields) as JsonObject }),
        time: entry.time ? timestampDate(entry.time) : now,
      });
    }
  }

  async function readLoop(session: WorkerSession, requests: AsyncIterator<ConnectRequest>): Promise<void> {
    for (;;) {
      const next = await requests.next();
      if (next.done) return;
      session.lastSeen = Date.now();
      const message = next.value.message;
      switch (message.case) {
        case "grant":
          session.grant(message.value.slots);
          deps.dispatcher.kick();
          break;
        case "heartbeat":
          break;
        case "progress":
          onProgress(session, message.value);
          break;
        case "log":
          onLog(session, message.value);
          break;
        case "complete":
          // Completions run concurrently with further reads; each is fenced on its own.
          void onComplete(session, message.value).catch((error: unknown) => {
            // Unavailability is retried inside; this is a bug or the server stopping.
            session.logger.error({ err: error }, "could not record results; the worker resends them after reconnecting");
            void close(session, new ConnectError("results could not be recorded; reconnect and resend", Code.Unavailable));
          });
          break;
        case "release":
          // Like completions: recorded concurrently with further reads, each fenced on its own.
          void onRelease(session, message.value).catch((error: unknown) => {
            session.logger.error({ err: error }, "could not record released attempts; the worker resends them after reconnecting");
            void close(session, new ConnectError("released attempts could not be recorded; reconnect and resend", Code.Unavailable));
          });
          break;
        case "draining":
          session.markDraining();
          void deps.store
            .markWorkerDraining(session.workerId, session.sessionId)
            .catch((error: unknown) => session.logger.warn({ err: error }, "could not record the worker as draining"));
          break;
        case "hello":
          throw new ConnectError("hello may only be the first message of the stream", Code.InvalidArgument);
        default:
          throw new ConnectError("empty or unknown worker message", Code.InvalidArgument);
      }
    }
  }

  const impl: ServiceImpl<typeof WorkerService> = {
    async *connect(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncIterable<ConnectResponse> {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done) return;
      if (first.value.message.case !== "hello") {
        throw new ConnectError("the first message of a worker stream must be hello", Code.InvalidArgument);
      }
      const session = await open(first.value.message.value, callerOf(context));
      session.logger.info(
        { queues: session.queues, slots: session.slots, types: [...session.types], host: first.value.message.value.host },
        "worker connected",
      );
      session.welcome(deps.heartbeatIntervalMs, deps.leaseTimeoutMs, limits.maxContextBytes);
      deps.dispatcher.kick();
      const onAbort = () => void close(session);
      context.signal.addEventListener("abort", onAbort, { once: true });
      readLoop(session, iterator).then(
        () => void close(session),
        (error: unknown) => void close(session, error),
      );
      try {
        yield* session.outbox;
      } finally {
        context.signal.removeEventListener("abort", onAbort);
        await close(session);
      }
    },
  };

  return {
    impl,
    closeSession: close,
  };
}
