/**
 * The attempt types of the store: how an attempt ended (`AttemptOutcome`), its start as the
 * broker's claim made it and PostgreSQL learns it lazily, and what `startAttempts` did.
 */
import type { AttemptError, TaskRecord, TaskStateName } from "../core/task-types.js";

/**
 * How one attempt ended, as reported by its worker or decided by the server. `start` is the
 * attempt's start when PostgreSQL may not have it yet (it is written lazily, see
 * `queries/lazy-starts.ts`): the outcome then writes the start and the end together, fenced
 * by a waiting state and a stored attempt below this one.
 */
export type AttemptOutcome = AttemptEnd & { start?: AttemptStartInfo };

/** Who started an attempt, and when. */
export interface AttemptStartInfo {
  /** The worker the attempt was handed to; null when unknown (a reaper ends a start no one wrote). */
  workerId: string | null;
  startedAt: Date;
}

/** An attempt's start, written lazily (`recordStarts`). */
export interface AttemptStart extends AttemptStartInfo {
  id: string;
  attempt: number;
  workerId: string;
}

/**
 * What `recordStarts` did with one start: `written`; `covered` (the attempt's outcome had written
 * it); `refused` (the task moved on without this attempt: its worker must stop it).
 */
export type StartWrite = "written" | "covered" | "refused";

/** How one attempt ended (see {@link AttemptOutcome}). */
export type AttemptEnd =
  | { kind: "succeeded"; id: string; attempt: number; outputTypeUrl: string; output: Uint8Array }
  | {
      kind: "failed";
      id: string;
      attempt: number;
      /** The attempt's error. When `error.retryable` and attempts remain, the task is retried after back-off. */
      error: AttemptError;
    }
  | { kind: "cancelled"; id: string; attempt: number; reason: string }
  | {
      /**
       * The worker handed the attempt back unstarted (`WorkerService` Release): the task is
       * QUEUED again and the attempt not counted; a task being cancelled ends CANCELLED with
       * `reason` as its error's message.
       */
      kind: "released";
      id: string;
      attempt: number;
      reason: string;
    };

/** A claimed task that `startAttempts` did not start; `state` null when no such task exists. */
export interface NotStarted {
  id: string;
  state: TaskStateName | null;
  priority: number;
  type: string;
  /** When it may run (a SCHEDULED task not yet due goes back to the delayed set); null when no such task exists. */
  scheduledAt: Date | null;
}

/** What `startAttempts` did with the ids it was given. */
export interface StartedAttempts {
  started: TaskRecord[];
  others: NotStarted[];
}
