/**
 * Tasks belong to the API key that submitted them. A client key sees, waits for, follows,
 * cancels and lists only its own tasks; viewer and admin keys (and every caller when authentication is off)
 * see all of them. Another key's task answers `NOT_FOUND`, exactly like a task that does not
 * exist, so task ids (UUIDv7, partly guessable from their time) do not reveal what other keys
 * submitted.
 *
 * Idempotency keys are scoped the same way: the stored key of an authenticated submission is
 * `<key id>/<idempotency key>`, so two keys using the same idempotency key get two tasks, and
 * one can never receive the other's task through it. Key ids cannot hold `/`, so the scoping is
 * unambiguous; {@link shownIdempotencyKey} strips it again.
 */
import type { NewTask, TaskRecord } from "../../core/task-types.js";
import type { Caller } from "./caller.js";

/** The key id a caller's task reads are limited to: its own for client keys, none otherwise. */
export function ownerScope(caller: Caller | undefined): string | undefined {
  return caller?.role === "client" ? caller.keyId : undefined;
}

/** Whether `caller` may see `task`. */
export function visibleTo(task: Pick<TaskRecord, "submittedBy">, caller: Caller | undefined): boolean {
  const scope = ownerScope(caller);
  return scope === undefined || task.submittedBy === scope;
}

/** The idempotency key to store for a submission by `caller`; see the file header. */
export function scopedIdempotencyKey(key: string | null, caller: Caller | undefined): string | null {
  return key === null || caller === undefined ? key : `${caller.keyId}/${key}`;
}

/** The idempotency key as its submitter gave it. */
export function shownIdempotencyKey(task: Pick<TaskRecord, "idempotencyKey" | "submittedBy">): string | null {
  const { idempotencyKey: key, submittedBy } = task;
  if (key === null || submittedBy === null) return key;
  const prefix = `${submittedBy}/`;
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

/** `task` as submitted by `caller`: owned by its key, idempotency key scoped to it. */
export function ownedBy(task: NewTask, caller: Caller | undefined): NewTask {
  if (caller === undefined) return task;
  return { ...task, submittedBy: caller.keyId, idempotencyKey: scopedIdempotencyKey(task.idempotencyKey, caller) };
}
