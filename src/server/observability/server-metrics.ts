/**
 * The server's Prometheus series (`GET /metrics`, prom-client), one registry per server so that
 * several servers in one process (tests, an embedding application) never share counters. Every
 * label value is bounded: task types and queues (the catalog's), outcomes and error kinds (fixed
 * lists), store and broker operations (the interfaces' method names) — never a task or worker id.
 *
 * Counters are fed by the store and broker decorators (`observed-store.ts`, `observed-broker.ts`)
 * from the records each operation returns, so they count what was written, not what was asked;
 * gauges are read when scraped (sessions, pending outcomes) or from a cached broker read (queue
 * depth, `queue-depth.ts`). Each update is a label hash and an increment: O(1) per task.
 * Keep in line with the README's "Metrics" section.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ErrorKindName, TaskRecord } from "../../core/task-types.js";

/**
 * How one attempt ended, as the `result` label of `taskwire_attempts_finished_total`: the
 * outcome's kind (`succeeded`, `cancelled`, `released`: handed back unrun), or a failure's error kind.
 */
export type AttemptResult = "succeeded" | "cancelled" | "released" | Lowercase<ErrorKindName>;

/** Which back end a store or broker operation went to. */
export type Backend = "postgres" | "redis";

/** What the gauges read when scraped; bound once the server has built its parts. */
export interface MetricSources {
  /** This server's worker streams: how many, and their declared and held slots. */
  workers(): { connected: number; slots: number; slotsUsed: number };
  /** Outcomes waiting for PostgreSQL to come back (`AttemptRecorder.pendingCount`). */
  pendingOutcomes(): number;
  /** Tasks per queue and state, fleet-wide, from the broker (cached). */
  queueDepth(): Promise<readonly { queue: string; queued: number; scheduled: number; running: number }[]>;
}

/** Seconds; tasks run from milliseconds to hours. */
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds from runnable to started; a backlog waits minutes. */
const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Seconds of one claim: a Redis script and an UPDATE. */
const CLAIM_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const TASK_LABELS = ["type", "queue"] as const;

/** The series of one server; see the file header. */
export class ServerMetrics {
  /** Holds every series of this server, and Node's process metrics. */
  readonly registry = new Registry();
  #sources: MetricSources | undefined;
  readonly #submitted: Counter<"type" | "queue">;
  readonly #started: Counter<"type" | "queue">;
  readonly #finished: Counter<"type" | "queue" | "outcome">;
  readonly #attempts: Counter<"type" | "queue" | "result">;
  readonly #retried: Counter<"type" | "queue">;
  readonly #rerun: Counter<"type" | "queue">;
  readonly #deleted: Counter;
  readonly #runTime: Histogram<"type" | "queue">;
  readonly #queueWait: Histogram<"type" | "queue">;
  readonly #claims: Histogram<"queue">;
  readonly #claimed: Counter<"queue">;
  readonly #backendErrors: Counter<"backend" | "operation">;
  readonly #reconnects: Counter<"backend">;
  readonly #rebuilds: Counter;
  readonly #subscribers: Gauge;

  /** @param options.processMetrics also report Node's process metrics (`process_*`, `nodejs_*`). @default true */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.#submitted = new Counter({
      name: "taskwire_tasks_submitted_total",
      help: "Tasks stored by Submit and SubmitBatch (an existing idempotency key counts once, when first stored).",
      labelNames: TASK_LABELS,
      registers,
    });
    this.#started = new Counter({
      name: "taskwire_tasks_started_total",
      help: "Attempts started: tasks handed to a worker (a retried task counts once per attempt).",
      labelNames: TASK_LABELS,
      registers,
    });
    this.#finished = new Counter({
      name: "taskwire_tasks_finished_total",
      help: "Tasks that reached a terminal state, by outcome: succeeded, failed or cancelled.",
      labelNames: [...TASK_LABELS, "outcome"],
      registers,
    });
    this.#attempts = new Counter({
      name: "taskwire_attempts_finished_total",
      help: "Attempts that ended, by result: succeeded, cancelled, or the error kind (task_error, deadline_exceeded, worker_lost, unsupported).",
      labelNames: [...TASK_LABELS, "result"],
      registers,
    });
    this.#retried = new Counter({
      name: "taskwire_tasks_retried_total",
      help: "Attempts that failed with attempts left: the task waits for its back-off and runs again.",
      labelNames: TASK_LABELS,
      registers,
    });
    this.#rerun = new Counter({
      name: "taskwire_tasks_rerun_total",
      help: "Finished tasks an operator put back to run (AdminService.RetryTasks, taskwire tasks retry).",
      labelNames: TASK_LABELS,
      registers,
    });
    this.#deleted = new Counter({
      name: "taskwire_tasks_deleted_total",
      help: "Finished tasks deleted, by retention or AdminService.DeleteTasks.",
      registers,
    });
    this.#runTime = new Histogram({
      name: "taskwire_task_run_duration_seconds",
      help: "Time from an attempt's start to its recorded end.",
      labelNames: TASK_LABELS,
      buckets: RUN_BUCKETS,
      registers,
    });
    this.#queueWait = new Histogram({
      name: "taskwire_task_queue_wait_seconds",
      help: "Time from a task becoming runnable (submitted, due, or its back-off over) to its attempt's start.",
      labelNames: TASK_LABELS,
      buckets: WAIT_BUCKETS,
      registers,
    });
    this.#claims = new Histogram({
      name: "taskwire_dispatch_claim_duration_seconds",
      help: "Dispatch claims from the broker, and how long each took (its _count is the number of claims).",
      labelNames: ["queue"],
      buckets: CLAIM_BUCKETS,
      registers,
    });
    this.#claimed = new Counter({
      name: "taskwire_dispatch_claimed_total",
      help: "Tasks the dispatch claims took from the broker (an empty claim takes none).",
      labelNames: ["queue"],
      registers,
    });
    this.#backendErrors = new Counter({
      name: "taskwire_backend_errors_total",
      help: "Store (PostgreSQL, or the embedded PGlite) and broker (Redis) operations that failed, by operation.",
      labelNames: ["backend", "operation"],
      registers,
    });
    this.#reconnects = new Counter({
      name: "taskwire_backend_reconnects_total",
      help: "Times PostgreSQL or Redis answered again after operations had failed as unavailable.",
      labelNames: ["backend"],
      registers,
    });
    this.#rebuilds = new Counter({
      name: "taskwire_index_rebuilds_total",
      help: "Rebuilds of the dispatch index from PostgreSQL that this server ran while serving (Redis lost or flushed, or a repair after Redis was unreachable).",
      registers,
    });
    this.#subscribers = new Gauge({
      name: "taskwire_progress_subscribers",
      help: "Subscriptions to task events open on this server: StreamProgress streams and waiting GetResult calls.",
      registers,
    });

    const sources = () => this.#sources;
    new Gauge({
      name: "taskwire_workers_connected",
      help: "Worker streams open on this server.",
      registers,
      collect() {
        this.set(sources()?.workers().connected ?? 0);
      },
    });
    new Gauge({
      name: "taskwire_worker_slots",
      help: "Slots (concurrency plus prefetch) the workers connected to this server declared.",
      registers,
      collect() {
        this.set(sources()?.workers().slots ?? 0);
      },
    });
    new Gauge({
      name: "taskwire_worker_slots_used",
      help: "Slots of the workers connected to this server that hold an attempt.",
      registers,
      collect() {
        this.set(sources()?.workers().slotsUsed ?? 0);
      },
    });
    new Gauge({
      name: "taskwire_outcomes_pending",
      help: "Attempt outcomes kept and retried while PostgreSQL is unavailable.",
      registers,
      collect() {
        this.set(sources()?.pendingOutcomes() ?? 0);
      },
    });
    new Gauge({
      name: "taskwire_queue_depth",
      help: "Tasks per queue and state (queued, scheduled, running), fleet-wide, from the broker's index, read at most every few seconds.",
      labelNames: ["queue", "state"],
      registers,
      async collect() {
        const depth = await sources()?.queueDepth();
        if (depth === undefined) return;
        this.reset();
        for (const { queue, queued, scheduled, running } of depth) {
          this.set({ queue, state: "queued" }, queued);
          this.set({ queue, state: "scheduled" }, scheduled);
          this.set({ queue, state: "running" }, running);
        }
      },
    });
  }

  /** Binds what the gauges read; the server calls it once its parts exist. */
  bind(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** A task stored for the first time. */
  submitted(task: TaskRecord): void {
    this.#submitted.inc({ type: task.type, queue: task.queue });
  }

  /** An attempt started at `startedMs`; the task had been runnable since its `scheduledAt`. */
  started(task: TaskRecord, startedMs: number): void {
    const labels = { type: task.type, queue: task.queue };
    this.#started.inc(labels);
    this.#queueWait.observe(labels, Math.max(0, startedMs - task.scheduledAt.getTime()) / 1000);
  }

  /**
   * An attempt ended with `result` at `endedMs`, leaving `task` in its new state: finished
   * (terminal) or waiting for a retry.
   */
  attemptEnded(task: TaskRecord, result: AttemptResult, endedMs: number, terminal: boolean): void {
    const labels = { type: task.type, queue: task.queue };
    this.#attempts.inc({ ...labels, result });
    if (task.startedAt !== null) this.#runTime.observe(labels, Math.max(0, endedMs - task.startedAt.getTime()) / 1000);
    if (terminal) this.finished(task);
    else if (result !== "released" && result !== "cancelled") this.#retried.inc(labels);
  }

  /** A task reached a terminal state (with or without an attempt: a cancel of a waiting task). */
  finished(task: TaskRecord): void {
    this.#finished.inc({ type: task.type, queue: task.queue, outcome: task.state.toLowerCase() });
  }

  /** A finished task put back to run by an operator. */
  rerun(task: TaskRecord): void {
    this.#rerun.inc({ type: task.type, queue: task.queue });
  }

  /** Finished tasks deleted. */
  deleted(count: number): void {
    if (count > 0) this.#deleted.inc(count);
  }

  /** A dispatch claim on `queue` that took `seconds` and returned `count` tasks. */
  claimed(queue: string, seconds: number, count: number): void {
    this.#claims.observe({ queue }, seconds);
    if (count > 0) this.#claimed.inc({ queue }, count);
  }

  /** A store or broker operation failed. */
  backendError(backend: Backend, operation: string): void {
    this.#backendErrors.inc({ backend, operation });
  }

  /** A back end answered again after being unavailable. */
  backendRecovered(backend: Backend): void {
    this.#reconnects.inc({ backend });
  }

  /** This server rebuilt the dispatch index. */
  indexRebuilt(): void {
    this.#rebuilds.inc();
  }

  /** A subscription to task events opened (`+1`) or closed (`-1`). */
  subscribers(delta: 1 | -1): void {
    this.#subscribers.inc(delta);
  }

  /** The exposition: Prometheus text format. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
