/**
 * Batching of what the worker tells the server. Results and grants go out on the next turn of
 * the event loop, so attempts finishing together share one `CompleteReport` and one `Grant`;
 * progress and context (the latest value of each per attempt, in one `TaskProgress`) and log
 * lines go out within `flushMs`, so a tight loop of `ctx.progress()` or `ctx.context.set()`
 * costs one message per interval. Results, and releases of attempts handed
 * back unstarted, are kept until the server acknowledges them and are sent again on the next
 * stream.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ConnectRequestSchema,
  TaskLogSchema,
  TaskProgressSchema,
  TaskRefSchema,
  type ConnectRequest,
  type TaskLog,
  type TaskProgress,
  type TaskRef,
  type TaskResult,
} from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Logger } from "../core/logger.js";
import { progressMessage, type ProgressSnapshot } from "./progress.js";
import { attemptKey } from "./task-pool.js";
import type { TaskLogLevel } from "./task-runner.js";

/** The stream the outbox writes to while a session is up. */
export interface OutboxSink {
  send(message: ConnectRequest): void;
  /** Free slots to grant now (the session's accounting); 0 for none. */
  takeGrant(): number;
}

/** Tuning of the outbox. */
export interface OutboxOptions {
  logger: Logger;
  /** Longest delay of a progress update or log line. @default 50 ms */
  flushMs?: number;
  /** Log lines kept while no stream is up; older ones are dropped. @default 1000 */
  maxBufferedLogs?: number;
  /** Most entries per message. @default 500 */
  maxBatch?: number;
}

interface PendingProgress {
  taskId: string;
  attempt: number;
  snapshot: ProgressSnapshot;
  time: Date;
}

/** Collects outgoing reports and sends them in batches. */
export class Outbox {
  readonly #logger: Logger;
  readonly #flushMs: number;
  readonly #maxBufferedLogs: number;
  readonly #maxBatch: number;
  #sink: OutboxSink | undefined;
  readonly #unacked = new Map<string, TaskResult>();
  #results: TaskResult[] = [];
  /** Released attempts not acknowledged yet, and why they were released. */
  readonly #unackedReleases = new Map<string, { ref: TaskRef; reason: string }>();
  #releases: { ref: TaskRef; reason: string }[] = [];
  #progress = new Map<string, PendingProgress>();
  /** The latest context of each attempt whose context changed since the last flush. */
  #contexts = new Map<string, { taskId: string; attempt: number; context: JsonObject }>();
  #logs: TaskLog[] = [];
  #droppedLogs = 0;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ackWaiters: Array<() => void> = [];

  constructor(options: OutboxOptions) {
    this.#logger = options.logger;
    this.#flushMs = options.flushMs ?? 50;
    this.#maxBufferedLogs = options.maxBufferedLogs ?? 1000;
    this.#maxBatch = options.maxBatch ?? 500;
  }

  /** Results and releases sent (or waiting to be) that the server has not acknowledged. */
  get unackedCount(): number {
    return this.#unacked.size + this.#unackedReleases.size;
  }

  /** Starts writing to a new stream: every unacknowledged result is sent again, then a grant. */
  attach(sink: OutboxSink): void {
    this.#sink = sink;
    this.#results = [...this.#unacked.values()];
    this.#releases = [...this.#unackedReleases.values()];
    this.flush();
  }

  /** The stream is gone; reports wait for the next one. */
  detach(): void {
    this.#sink = undefined;
    this.#cancelTimers();
  }

  /** Queues a result for the next flush and keeps it until acknowledged. */
  addResult(result: TaskResult): void {
    this.#unacked.set(attemptKey(result.taskId, result.attempt), result);
    this.#results.push(result);
    this.#scheduleImmediate();
  }

  /**
   * Queues the release of attempts the worker will not run (prefetched ones on drain, one it had
   * no room for) and keeps them until acknowledged; sent at once.
   */
  addRelease(refs: readonly { taskId: string; attempt: number }[], reason: string): void {
    for (const { taskId, attempt } of refs) {
      const pending = { ref: create(TaskRefSchema, { taskId, attempt }), reason };
      this.#unackedReleases.set(attemptKey(taskId, attempt), pending);
      this.#releases.push(pending);
    }
    if (refs.length > 0) this.#scheduleImmediate();
  }

  /** Asks for a flush on the next turn, where the sink computes the slots to grant. */
  requestGrant(): void {
    this.#scheduleImmediate();
  }

  /** Forgets results the server has recorded. */
  acknowledge(refs: readonly TaskRef[]): void {
    for (const ref of refs) {
      const key = attemptKey(ref.taskId, ref.attempt);
      const release = this.#unackedReleases.get(key);
      if (release) {
        this.#unackedReleases.delete(key);
        this.#releases = this.#releases.filter((pending) => pending !== release);
      }
      const result = this.#unacked.get(key);
      if (!result) continue;
      this.#unacked.delete(key);
      this.#results = this.#results.filter((pending) => pending !== result);
    }
    if (this.unackedCount === 0) {
      const waiters = this.#ackWaiters;
      this.#ackWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Resolves once every result and release is acknowledged. */
  whenAcked(): Promise<void> {
    if (this.unackedCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.#ackWaiters.push(resolve));
  }

  /** Replaces the pending progress of an attempt. */
  setProgress(taskId: string, attempt: number, snapshot: ProgressSnapshot): void {
    this.#progress.set(attemptKey(taskId, attempt), { taskId, attempt, snapshot, time: new Date() });
    this.#scheduleTimed();
  }

  /** Replaces the pending context of an attempt (the whole context, sent with its progress). */
  setContext(taskId: string, attempt: number, context: JsonObject): void {
    this.#contexts.set(attemptKey(taskId, attempt), { taskId, attempt, context });
    this.#scheduleTimed();
  }

  /** Queues a log line of an attempt, with its fields (JSON) when it has some. */
  addLog(taskId: string, attempt: number, level: TaskLogLevel, message: string, fields?: JsonObject): void {
    this.#logs.push(create(TaskLogSchema, { taskId, attempt, level, message, time: timestampFromDate(new Date()), fields }));
    if (!this.#sink && this.#logs.length > this.#maxBufferedLogs) {
      this.#logs.shift();
      this.#droppedLogs++;
    }
    this.#scheduleTimed();
  }

  /** Sends everything pending now, in order: progress, logs, results, releases, grant. */
  flush(): void {
    this.#cancelTimers();
    const sink = this.#sink;
    if (!sink) return;
    if (this.#droppedLogs > 0) {
      this.#logger.warn({ dropped: this.#droppedLogs }, "task log lines dropped while disconnected");
      this.#droppedLogs = 0;
    }
    const updates: TaskProgress[] = [];
    for (const [key, pending] of this.#progress) {
      const context = this.#contexts.get(key)?.context;
      this.#contexts.delete(key);
      try {
        updates.push(
          create(TaskProgressSchema, {
            taskId: pending.taskId,
            attempt: pending.attempt,
            progress: progressMessage(pending.snapshot, pending.time),
            context,
          }),
        );
      } catch (error) {
        this.#logger.warn({ err: error, taskId: pending.taskId, attempt: pending.attempt }, "progress details are not JSON; update dropped");
        if (context !== undefined) updates.push(create(TaskProgressSchema, { taskId: pending.taskId, attempt: pending.attempt, context }));
      }
    }
    for (const { taskId, attempt, context } of this.#contexts.values()) updates.push(create(TaskProgressSchema, { taskId, attempt, context }));
    this.#progress.clear();
    this.#contexts.clear();
    for (const chunk of chunks(updates, this.#maxBatch)) {
      sink.send(create(ConnectRequestSchema, { message: { case: "progress", value: { updates: chunk } } }));
    }
    for (const chunk of chunks(this.#logs, this.#maxBatch)) {
      sink.send(create(ConnectRequestSchema, { message: { case: "log", value: { entries: chunk } } }));
    }
    this.#logs = [];
    for (const chunk of chunks(this.#results, this.#maxBatch)) {
      sink.send(create(ConnectRequestSchema, { message: { case: "complete", value: { results: chunk } } }));
    }
    this.#results = [];
    const byReason = new Map<string, TaskRef[]>();
    for (const { ref, reason } of this.#releases) byReason.set(reason, [...(byReason.get(reason) ?? []), ref]);
    for (const [reason, refs] of byReason) {
      for (const chunk of chunks(refs, this.#maxBatch)) {
        sink.send(create(ConnectRequestSchema, { message: { case: "release", value: { tasks: chunk, reason } } }));
      }
    }
    this.#releases = [];
    const slots = sink.takeGrant();
    if (slots > 0) sink.send(create(ConnectRequestSchema, { message: { case: "grant", value: { slots } } }));
  }

  /** Stops pending flushes (the worker is done). */
  close(): void {
    this.detach();
  }

  #scheduleImmediate(): void {
    if (!this.#sink || this.#immediate) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      this.flush();
    });
  }

  #scheduleTimed(): void {
    if (!this.#sink || this.#timer || this.#immediate) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#flushMs);
  }

  #cancelTimers(): void {
    if (this.#immediate) clearImmediate(this.#immediate);
    if (this.#timer) clearTimeout(this.#timer);
    this.#immediate = undefined;
    this.#timer = undefined;
  }
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}
