/**
 * The worker sessions connected to this server: the one owner of sessions. The worker service
 * adds and removes them as streams open and close; the dispatcher, the duties and the control
 * plane find them here (by worker id, by a task they hold) and act on them through the
 * session's own methods.
 */
import type { LeaseRef } from "../../broker/broker.js";
import type { WorkerSession } from "./worker-session.js";

export class SessionRegistry {
  readonly #byWorker = new Map<string, WorkerSession>();

  /** Adds a session; false when a session of the same worker id is connected here. */
  add(session: WorkerSession): boolean {
    if (this.#byWorker.has(session.workerId)) return false;
    this.#byWorker.set(session.workerId, session);
    return true;
  }

  /** Removes a session; false when it is not the registered one (it was removed already). */
  remove(session: WorkerSession): boolean {
    if (this.#byWorker.get(session.workerId) !== session) return false;
    this.#byWorker.delete(session.workerId);
    return true;
  }

  /** Whether a worker id has a stream here. */
  has(workerId: string): boolean {
    return this.#byWorker.has(workerId);
  }

  /** The session of a worker connected here. */
  get(workerId: string): WorkerSession | undefined {
    return this.#byWorker.get(workerId);
  }

  /** The session holding an attempt of the task, if one here does. */
  holding(taskId: string): WorkerSession | undefined {
    for (const session of this.#byWorker.values()) if (session.holdsTask(taskId)) return session;
    return undefined;
  }

  /** Every session, in connection order. */
  all(): WorkerSession[] {
    return [...this.#byWorker.values()];
  }

  get size(): number {
    return this.#byWorker.size;
  }

  /** Whether any session holds an attempt (shutdown waits for them). */
  anyHeld(): boolean {
    for (const session of this.#byWorker.values()) if (session.heldCount > 0) return true;
    return false;
  }

  /** The leases of every held attempt, to renew. */
  heldLeases(): LeaseRef[] {
    const leases: LeaseRef[] = [];
    for (const session of this.#byWorker.values()) {
      for (const [id, held] of session.heldEntries()) leases.push({ id, queue: held.queue });
    }
    return leases;
  }

  /** The ids of every held task. */
  heldTaskIds(): Set<string> {
    const ids = new Set<string>();
    for (const session of this.#byWorker.values()) for (const [id] of session.heldEntries()) ids.add(id);
    return ids;
  }
}
