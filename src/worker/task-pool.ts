/**
 * The attempts held by this worker: one `AbortController` each, one shared deadline timer, and a
 * way to wait until none is left. At most `concurrency` run at once; attempts assigned beyond
 * that (prefetched) wait here in assignment order and start as running ones end. A waiting
 * attempt that is cancelled, reaches its deadline or is aborted reports without running.
 * Attempts outlive streams: when a stream breaks they go on running, and their results wait in
 * the outbox for the next stream.
 */
import { taskParents } from "./task-parents.js";
import type { JsonObject } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Assignment, TaskResult } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { TaskDefinition } from "../common/task-definition.js";
import type { Logger } from "../core/logger.js";
import { DeadlineTimer } from "./deadline-timer.js";
import { CancelRequestedError, TaskTimeoutError } from "./errors.js";
import type { ProgressSnapshot } from "./progress.js";
import { logOutcome } from "./outcome-log.js";
import { runInHandlerSpan } from "./handler-span.js";
import { outcomeOfError, runAttempt, taskResultOf, type AttemptOutcome, type AttemptRunOptions, type TaskLogLevel } from "./task-runner.js";

/** Where the pool sends what its attempts produce. */
export interface TaskPoolSinks {
  onProgress(taskId: string, attempt: number, snapshot: ProgressSnapshot): void;
  onLog(taskId: string, attempt: number, level: TaskLogLevel, message: string, fields?: JsonObject): void;
  /** Called with an attempt's whole context after each change of `ctx.context`. @default none */
  onContext?(taskId: string, attempt: number, context: JsonObject): void;
  /** The server's bound on a context (`Welcome.max_context_bytes`), when known. @default unchecked */
  maxContextBytes?(): number | undefined;
  /** Called once per attempt that started, with its result (not for abandoned attempts). */
  onFinished(result: TaskResult): void;
  /** Called when a handler's run ended, with its outcome and how long it ran (the worker's metrics). @default none */
  onRunEnded?(type: string, outcome: AttemptOutcome, seconds: number): void;
  /** Called when an attempt is taken in (running or waiting), so the worker is not idle (idle exit). @default none */
  onHeld?(): void;
}

interface RunningAttempt {
  taskId: string;
  attempt: number;
  controller: AbortController;
}

/** A prefetched attempt waiting for a free slot. */
interface WaitingAttempt {
  key: string;
  entry: RunningAttempt;
  assignment: Assignment;
  /** Reports the attempt without running it when its signal aborts while it waits. */
  onAbort: () => void;
}

/** The key of an attempt in maps. */
export function attemptKey(taskId: string, attempt: number): string {
  return `${taskId}#${attempt}`;
}

/** Runs assigned attempts and tracks them until they report. */
export class TaskPool {
  /** Every attempt held: running or waiting. */
  readonly #running = new Map<string, RunningAttempt>();
  readonly #waiting: WaitingAttempt[] = [];
  #executing = 0;
  readonly #deadlines = new DeadlineTimer();
  #idleWaiters: Array<() => void> = [];
  #abortedWith: Error | undefined;

  constructor(
    private readonly tasks: ReadonlyMap<string, TaskDefinition>,
    private readonly logger: Logger,
    private readonly sinks: TaskPoolSinks,
    /** Attempts run at once; more are held waiting. */
    private readonly concurrency = Number.POSITIVE_INFINITY,
    /** This worker's id, on the handler spans. */
    private readonly workerId = "",
    /** Middleware around the handlers, and where they run (in this process, or a process pool). */
    private readonly runOptions: AttemptRunOptions = {},
  ) {}

  /** Number of attempts held: running, or prefetched and waiting for a slot. */
  get size(): number {
    return this.#running.size;
  }

  /** Number of attempts running now. */
  get runningCount(): number {
    return this.#executing;
  }

  /** Whether `(taskId, attempt)` is held here. */
  has(taskId: string, attempt: number): boolean {
    return this.#running.has(attemptKey(taskId, attempt));
  }

  /**
   * Starts an attempt, or holds it until a slot frees when `concurrency` attempts run. Its
   * deadline counts from now either way. A duplicate of a held attempt is ignored. After
   * {@link abortAll}, new attempts are not run but reported at once with that reason.
   */
  start(assignment: Assignment): void {
    const { taskId, attempt, type } = assignment;
    const key = attemptKey(taskId, attempt);
    if (this.#running.has(key)) {
      this.logger.warn({ taskId, attempt, taskType: type }, "ignoring a duplicate assignment of a held attempt");
      return;
    }
    const controller = new AbortController();
    const entry: RunningAttempt = { taskId, attempt, controller };
    this.#running.set(key, entry);
    this.sinks.onHeld?.();
    if (this.#abortedWith) {
      controller.abort(this.#abortedWith);
      this.#reportUnrun(key, entry);
      return;
    }
    const deadline = assignment.deadline ? timestampDate(assignment.deadline) : undefined;
    if (deadline) {
      this.#deadlines.set(key, deadline, () => {
        this.logger.info({ taskId, attempt, deadline: deadline.toISOString() }, "attempt reached its deadline, aborting it");
        controller.abort(new TaskTimeoutError(deadline));
      });
    }
    if (this.#executing >= this.concurrency) {
      const waiting: WaitingAttempt = {
        key,
        entry,
        assignment,
        onAbort: () => {
          this.#waiting.splice(this.#waiting.indexOf(waiting), 1);
          this.#reportUnrun(key, entry);
        },
      };
      controller.signal.addEventListener("abort", waiting.onAbort, { once: true });
      this.#waiting.push(waiting);
      return;
    }
    this.#run(key, entry, assignment);
  }

  #run(key: string, entry: RunningAttempt, assignment: Assignment): void {
    const { taskId, attempt, type } = assignment;
    const { controller } = entry;
    const logger = this.logger.child({ taskId, attempt, taskType: type });
    const deadline = assignment.deadline ? timestampDate(assignment.deadline) : undefined;
    this.#executing++;
    logger.debug("attempt started");
    const startedAt = performance.now();
    runInHandlerSpan(assignment, this.workerId, () =>
      runAttempt(this.tasks.get(type), type, assignment.input, {
        taskId,
        attempt,
        maxAttempts: assignment.maxAttempts,
        deadline,
        signal: controller.signal,
        logger,
        onProgress: (snapshot) => this.sinks.onProgress(taskId, attempt, snapshot),
        onLog: (level, message, fields) => this.sinks.onLog(taskId, attempt, level, message, fields),
        parents: taskParents(assignment.parents, this.tasks),
        context: assignment.context,
        onContext: (context) => this.sinks.onContext?.(taskId, attempt, context),
        maxContextBytes: this.sinks.maxContextBytes?.(),
      }, this.runOptions),
    ).then(
      (outcome) => {
        logOutcome(logger, assignment, outcome, performance.now() - startedAt);
        this.sinks.onRunEnded?.(type, outcome, (performance.now() - startedAt) / 1000);
        this.#ended(key, entry, taskResultOf(taskId, attempt, outcome));
      },
      (error: unknown) => {
        // runAttempt does not reject; this is a bug in a sink, reported as the task's error.
        logger.error({ err: error }, "attempt crashed");
        this.#ended(key, entry, taskResultOf(taskId, attempt, outcomeOfError(error, controller.signal)));
      },
    );
  }

  /** A running attempt ended: its slot goes to the first waiting attempt. */
  #ended(key: string, entry: RunningAttempt, result: TaskResult): void {
    this.#executing--;
    const next = this.#waiting.shift();
    if (next) {
      next.entry.controller.signal.removeEventListener("abort", next.onAbort);
      this.#run(next.key, next.entry, next.assignment);
    }
    this.#finish(key, entry, result);
  }

  /** Reports an attempt that never ran, with the reason its signal was aborted with. */
  #reportUnrun(key: string, entry: RunningAttempt): void {
    const result = taskResultOf(entry.taskId, entry.attempt, outcomeOfError(undefined, entry.controller.signal));
    queueMicrotask(() => this.#finish(key, entry, result));
  }

  /**
   * Takes the prefetched attempts that have not started out of the pool, unreported: the worker
   * hands them back with `Release` (their attempt is not counted). @returns their refs.
   */
  releaseWaiting(): { taskId: string; attempt: number }[] {
    const released = this.#waiting.splice(0);
    for (const waiting of released) {
      waiting.entry.controller.signal.removeEventListener("abort", waiting.onAbort);
      this.#running.delete(waiting.key);
      this.#deadlines.delete(waiting.key);
    }
    if (released.length > 0 && this.#running.size === 0) this.#notifyIdle();
    return released.map(({ entry }) => ({ taskId: entry.taskId, attempt: entry.attempt }));
  }

  /** Aborts one attempt's signal with a {@link CancelRequestedError}; false when it is not held. */
  cancel(taskId: string, attempt: number, reason: string): boolean {
    const entry = this.#running.get(attemptKey(taskId, attempt));
    if (!entry) return false;
    entry.controller.abort(new CancelRequestedError(reason));
    return true;
  }

  /** Aborts every held attempt with `reason` (waiting ones report at once), and every attempt assigned from now on. */
  abortAll(reason: Error): void {
    this.#abortedWith = reason;
    for (const entry of this.#running.values()) entry.controller.abort(reason);
  }

  /** Forgets attempts that ignored their abort; their results, if they ever come, are dropped. */
  abandon(): number {
    const count = this.#running.size;
    for (const waiting of this.#waiting) waiting.entry.controller.signal.removeEventListener("abort", waiting.onAbort);
    this.#waiting.length = 0;
    this.#running.clear();
    this.#deadlines.clear();
    this.#notifyIdle();
    return count;
  }

  /** Resolves once no attempt runs. */
  whenIdle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Resolves true once no attempt runs, or false after `ms`. */
  async whenIdleWithin(ms: number): Promise<boolean> {
    if (this.#running.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([this.whenIdle().then(() => true as const), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #finish(key: string, entry: RunningAttempt, result: TaskResult): void {
    // Abandoned (or replaced): the result is no longer ours to report.
    if (this.#running.get(key) !== entry) return;
    this.#running.delete(key);
    this.#deadlines.delete(key);
    this.sinks.onFinished(result);
    if (this.#running.size === 0) this.#notifyIdle();
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
