/**
 * How an attempt gets its number when it starts in the broker's claim and PostgreSQL learns of
 * the start later (`server/engine/start-writer.ts`, `store.recordStarts`), and why a number never repeats: no two
 * workers ever hold the same (task, attempt), so the fence of every report stays exact.
 *
 * A claim leases the task in the broker; the dispatcher reads the row (no write) and hands the
 * task to its worker as attempt `stored + 1`, or `stored + 2` (below). The start is written
 * afterwards, or with the attempt's outcome. Until then the row still says QUEUED (or SCHEDULED)
 * with the stored attempt, so a second claim of the task must not happen, or must not reuse the
 * number. Every way back into the runnable set:
 *
 * - an outcome (result, failure, lost worker, deadline, release) is written to PostgreSQL first,
 *   with the start it carries (`AttemptOutcome.start`), and only then requeued: the row holds the
 *   attempt, so the next claim numbers past it;
 * - the reaper, for a lease that expired while the row still waits (the claiming server died
 *   before writing the start, or Redis lost the claim's answer), sets the stored attempt to
 *   {@link nextAttempt}'s number (a release of the number after it) before requeueing it, so
 *   that number is used up whatever the claim handed out; no attempt is counted for it;
 * - a dispatch index rebuilt from PostgreSQL (Redis lost, or the embedded default started
 *   again) finds such tasks QUEUED, their leases gone. Every claim from the lost index came
 *   before the loss, hence before the rebuild began (`indexBuiltAt`), and so did the task's last
 *   written start. So a task whose last written start (never started: its creation) is older
 *   than the index it is claimed from skips one number: its attempt is `stored + 2`, and no
 *   worker of the lost index can hold that. The skip costs one attempt number (and one attempt
 *   of `max_attempts`) per task waiting when the index was lost, at most once per index.
 *
 * Servers' clocks: the start times and the build time come from different servers' clocks. The
 * rule holds while they differ by less than the time from an attempt's written start to the
 * task's next claim (the attempt's run, its outcome's commit, the requeue and the claim), and
 * the time from the loss of the index to the start of its rebuild (up to a second's check).
 */
import type { TaskRecord } from "./task-types.js";

/**
 * The number of the attempt a claim starts: the stored attempt + 1, or + 2 when the task's last
 * written start (or its creation) is older than the index it was claimed from.
 */
export function nextAttempt(task: Pick<TaskRecord, "attempt" | "startedAt" | "createdAt">, indexBuiltAt: Date): number {
  return task.attempt + ((task.startedAt ?? task.createdAt) < indexBuiltAt ? 2 : 1);
}

/** The task as it is once its attempt started (in memory; PostgreSQL learns it later). */
export function startedRecord(task: TaskRecord, workerId: string, now: Date, indexBuiltAt: Date): TaskRecord {
  const attempt = nextAttempt(task, indexBuiltAt);
  return {
    ...task,
    state: "RUNNING",
    attempt,
    workerId,
    startedAt: now,
    transitions: [...task.transitions, { state: "RUNNING", attempt, time: now.toISOString() }],
  };
}
