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
  type TaskResult,
} from "../../../gen/taskwire/v1/worker_service_pb.js";
import { AlreadyExistsError, InvalidArgumentError, PermissionDeniedError, UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { Batcher } from "../../core/batcher.js";
import { QUEUE_NAME, TYPE_NAME, MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN } from "../../core/limits.js";
import type { TaskProgress, TaskTypeRecord } from "../../core/task-types.js";
import { create } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { TaskStore, AttemptOutcome } from "../../store/store.js";
import type { AttemptRecorder } from "../engine/attempt-recorder.js";
import { readDescriptorSet, resolveDescriptors, type Catalog } from "../engine/catalog.js";
import { progressFromProto, stateToProto } from "../convert.js";
import type { Dispatcher } from "../engine/dispatcher.js";
import { serverError } from "../engine/server-error.js";
import type { TaskEvents } from "../engine/task-events.js";
import type { SessionRegistry } from "../engine/session-registry.js";
import { WorkerSession } from "../engine/worker-session.js";
import { validDurationMs, validRetentionMs } from "./submission.js";
import { attemptErrorOf } from "./task-failure.js";
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
  events: TaskEvents;
  logger: Logger;
  heartbeatIntervalMs: number;
  leaseTimeoutMs: number;
  /** True once the server started draining: new streams are refused. */
  isDraining: () => boolean;
  /** Upserts the schedules workers declare with their types. */
  scheduler: Scheduler;
  /** Who owns the task types declared (issue 15): checks and claims each Hello's types. */
  ownership: TypeOwnership;
}

/** Most slots a worker may declare. */
const MAX_SLOTS = 10_000;
/** Default back-off of a declared type that gives none. */
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 300_000, multiplier: 2, jitter: 0.2 };

/** Validates a Hello and turns its declarations into catalog records. */
export function parseHello(hello: Hello): Omit<TaskTypeRecord, "updatedAt">[] {
  const bad = (field: string, description: string) => InvalidArgumentError.field(`hello.${field}`, description);
  if (!/^[A-Za-z0-9_.:@-]{1,200}$/.test(hello.workerId)) throw bad("worker_id", "must be 1 to 200 of letters, digits and _ . : @ -");
  if (hello.queues.length === 0) throw bad("queues", "must name at least one queue");
  hello.queues.forEach((q, i) => {
    if (!QUEUE_NAME.test(q)) throw bad(`queues[${i}]`, `"${q}" is not a valid queue name`);
  });
  if (new Set(hello.queues).size !== hello.queues.length) throw bad("queues", "must not repeat a queue");
  if (!Number.isInteger(hello.slots) || hello.slots < 1 || hello.slots > MAX_SLOTS) {
    throw bad("slots", `must be from 1 to ${MAX_SLOTS}, got ${hello.slots}`);
  }
  if (hello.types.length === 0) throw bad("types", "must declare at least one task type");
  // One set per Hello, resolved once: every declared type refers to it.
  const set = readDescriptorSet(hello.descriptors ?? create(FileDescriptorSetSchema), hello.types.flatMap((t) => [t.inputType, t.outputType]));
  const seen = new Set<string>();
  return hello.types.map((t, i) => {
    const field = `types[${i}]`;
    if (!TYPE_NAME.test(t.name)) throw bad(`${field}.name`, `"${t.name}" is not a valid task type name`);
    if (seen.has(t.name)) throw bad(`${field}.name`, `"${t.name}" is declared twice`);
    seen.add(t.name);
    const d = t.defaults;
    const priority = d?.priority ?? 0;
    if (priority < PRIORITY_MIN || priority > PRIORITY_MAX) throw bad(`${field}.defaults.priority`, `must be from ${PRIORITY_MIN} to ${PRIORITY_MAX}`);
    if (d?.queue && !QUEUE_NAME.test(d.queue)) throw bad(`${field}.defaults.queue`, `"${d.queue}" is not a valid queue name`);
    const maxAttempts = d?.maxAttempts || 3;
    if (maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) throw bad(`${field}.defaults.max_attempts`, `must be from 1 to ${MAX_ATTEMPTS_LIMIT}`);
    const b = d?.backoff;
    const backoff = {
      initialMs: b?.initial ? validDurationMs(b.initial, `hello.${field}.defaults.backoff.initial`) : DEFAULT_BACKOFF.initialMs,
      maxMs: b?.max ? validDurationMs(b.max, `hello.${field}.defaults.backoff.max`) : DEFAULT_BACKOFF.maxMs,
      multiplier: b?.multiplier || DEFAULT_BACKOFF.multiplier,
      jitter: b?.jitter ?? DEFAULT_BACKOFF.jitter,
    };
    if (!(backoff.multiplier >= 1 && backoff.multiplier <= 100)) throw bad(`${field}.defaults.backoff.multiplier`, "must be from 1 to 100");
    if (!(backoff.jitter >= 0 && backoff.jitter <= 1)) throw bad(`${field}.defaults.backoff.jitter`, "must be from 0 to 1");
    const record = {
      name: t.name,
      inputType: t.inputType,
      outputType: t.outputType,
      description: t.description,
      descriptors: set.bytes,
      descriptorSet: set.hash,
      defaults: {
        queue: d?.queue || null,
        priority,
        timeoutMs: d?.timeout ? validDurationMs(d.timeout, `hello.${field}.defaults.timeout`, true) : null,
        maxAttempts,
        backoff,
        retentionMs: d?.retention ? validRetentionMs(d.retention, `hello.${field}.defaults.retention`) : null,
      },
    };
    resolveDescriptors(record);
    return record;
  });
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

/** A worker's result as the outcome to record. */
function outcomeOf(r: TaskResult, workerId: string): AttemptOutcome {
  const base = { id: r.taskId, attempt: r.attempt };
  switch (r.outcome.case) {
    case "output":
      return { kind: "succeeded", ...base, outputTypeUrl: r.outcome.value.typeUrl, output: r.outcome.value.value };
    case "cancelled":
      return { kind: "cancelled", ...base, reason: r.outcome.value };
    default:
      return { kind: "failed", ...base, error: attemptErrorOf(r.outcome.value, r.attempt, workerId) };
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
  const progressWriter = new Batcher(
    async (updates: { id: string; attempt: number; progress: TaskProgress }[]) => {
      const saved = new Set(await deps.store.saveProgress(updates));
      return updates.map((u) => saved.has(u.id));
    },
    { maxBatch: 1000 },
  );

  /**
   * Opens a worker's session from its Hello, as `caller` (undefined: authentication is off).
   * Worker ids and task types are checked against their owners first (issue 15): a worker id
   * bound to another key's principal is refused with PERMISSION_DENIED before anything else, so
   * that another key can neither take it nor lock its worker out (ALREADY_EXISTS); the types are
   * admitted by {@link TypeOwnership}. Admin keys are checked against no owner and bind nothing.
   */
  async function open(hello: Hello, caller: Caller | undefined): Promise<WorkerSession> {
    if (deps.isDraining()) throw new UnavailableError("SHUTTING_DOWN", "the server is draining; connect to another server");
    const types = parseHello(hello);
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
      outcomes.push({ queue: held.queue, outcome: outcomeOf(r, session.workerId) });
    }
    // The last progress of an attempt is written before its outcome, so the final record (and
    // the terminal event) carries it.
    await Promise.all(outcomes.map((o) => session.progressWrites.get(o.outcome.id)));
    await Promise.all([...outcomes.map((o) => deps.recorder.recordDurably(o.outcome, o.queue)), ...earlier]);
    session.ack(report.results.map((r) => ({ taskId: r.taskId, attempt: r.attempt })));
  }

  function onProgress(session: WorkerSession, report: ProgressReport): void {
    const now = new Date();
    for (const u of report.updates) {
      if (!session.holds(u.taskId, u.attempt) || !u.progress) {
        session.logger.warn({ taskId: u.taskId, attempt: u.attempt }, "ignored progress for an attempt the worker does not hold");
        continue;
      }
      if (!Number.isFinite(u.progress.percent) || u.progress.percent < 0 || u.progress.percent > 100) {
        session.logger.warn({ taskId: u.taskId, percent: u.progress.percent }, "ignored progress with a percent outside 0–100");
        continue;
      }
      const progress = progressFromProto(u.progress, now);
      const saved = progressWriter.add({ id: u.taskId, attempt: u.attempt, progress }).then(
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
          progress: { ...u.progress, updateTime: u.progress.updateTime ?? timestampFromDate(now) },
          time: timestampFromDate(now),
        },
      ]);
    }
  }

  function onLog(session: WorkerSession, report: LogReport): void {
    for (const entry of report.entries) {
      const level = ["debug", "info", "warn", "error"].includes(entry.level) ? (entry.level as "info") : "info";
      session.logger[level]({ taskId: entry.taskId, attempt: entry.attempt, source: "task" }, entry.message.slice(0, 10_000));
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
      session.welcome(deps.heartbeatIntervalMs, deps.leaseTimeoutMs);
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
