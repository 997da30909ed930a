/**
 * The store as the server uses it, observed: every change of a task's state is one of the store
 * operations below, and each returns the records it changed, so the task counters and the
 * dispatch and outcome spans are derived from what was written (a stale outcome, ignored by the
 * store, counts nothing). That is why the counters match `AdminService.CountTasks`.
 */
import type { Logger } from "../../core/logger.js";
import { TERMINAL_STATES } from "../../core/task-states.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { AttemptOutcome, TaskStore } from "../../store/store.js";
import { observeCalls } from "./observed-calls.js";
import type { AttemptResult, ServerMetrics } from "./server-metrics.js";
import type { TaskSpans } from "./task-spans.js";
import type { MinuteCounters } from "./minute-counters.js";

/** The `result` label of an attempt's outcome. */
export function attemptResult(outcome: AttemptOutcome): AttemptResult {
  return outcome.kind === "failed" ? (outcome.error.kind.toLowerCase() as AttemptResult) : outcome.kind;
}

/**
 * `store` with its task changes counted and traced, and its failures counted; `minutes`, when
 * given, also counts starts and outcomes per minute (for `AdminService.GetOverview`).
 */
export function observeStore(store: TaskStore, metrics: ServerMetrics, spans: TaskSpans, logger: Logger, minutes?: MinuteCounters): TaskStore {
  const finished = (task: TaskRecord): void => {
    metrics.finished(task);
    minutes?.finished(task, task.finishedAt?.getTime());
  };
  return observeCalls(store, "postgres", metrics, logger, {
    insertTasks(results) {
      for (const { task, existing } of results) if (!existing) metrics.submitted(task);
    },
    fireSchedule(results) {
      for (const { task, existing } of results ?? []) if (!existing) metrics.submitted(task);
    },
    startAttempts({ started }, [, , now]) {
      const startedMs = now.getTime();
      for (const task of started) {
        metrics.started(task, startedMs);
        minutes?.started(task, startedMs);
      }
      spans.dispatched(started, startedMs);
    },
    beginAttempts({ started }, [, , now]) {
      const startedMs = now.getTime();
      for (const task of started) {
        metrics.started(task, startedMs);
        minutes?.started(task, startedMs);
      }
      spans.dispatched(started, startedMs);
    },
    finishAttempts(changed, [outcomes, now], startedMs) {
      if (changed.length === 0) return;
      const byId = new Map<string, AttemptOutcome>();
      for (const outcome of outcomes) byId.set(outcome.id, outcome);
      const endedMs = now.getTime();
      const recordedMs = Date.now();
      for (const task of changed) {
        const outcome = byId.get(task.id);
        // A child the outcome cancelled (its parent failed: issue 17) finished without an attempt.
        if (outcome === undefined && task.state === "CANCELLED") finished(task);
        if (outcome === undefined || outcome.attempt !== task.attempt) continue;
        metrics.attemptEnded(task, attemptResult(outcome), endedMs, TERMINAL_STATES.has(task.state));
        if (TERMINAL_STATES.has(task.state)) minutes?.finished(task, task.finishedAt?.getTime());
        spans.recorded(task, outcome, startedMs, recordedMs);
      }
    },
    cancelTask(outcome) {
      if (outcome?.kind !== "cancelled") return;
      finished(outcome.task);
      for (const child of outcome.children) if (child.state === "CANCELLED") finished(child);
    },
    cancelWaiting(cancelled) {
      for (const task of cancelled) finished(task);
    },
    retryTasks(rerun) {
      for (const task of rerun) metrics.rerun(task);
    },
    deleteFinished(count) {
      metrics.deleted(count);
    },
  });
}
