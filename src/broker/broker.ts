/**
 * The broker is the dispatch index: which tasks are runnable, in which order, who holds a
 * lease, and the wake-ups and progress fan-out between servers. PostgreSQL stays the source of
 * truth; everything here can be rebuilt from it.
 *
 * Implementations: `RedisBroker` (sorted sets and Lua, for production and several servers) and,
 * for the embedded default, an in-process broker. Both must pass `test/broker/contract.ts`.
 */

import type { LimitTable } from "../core/dispatch-limits.js";

/** A runnable task in the index. */
export interface QueueEntry {
  id: string;
  queue: string;
  /**
   * The task's type. A queue's index is kept per type, so that a claim takes the best task of
   * the types its worker serves and a task of any other type never blocks the ones behind it.
   */
  type: string;
  /** Higher runs first; within one priority, first in first out. */
  priority: number;
  /**
   * The task's concurrency key (`SubmitRequest.concurrency_key`): per-key limits count the leased
   * tasks of one key, and a claim serves keys round-robin within a priority. Only the calls that
   * index a task anew need it (`enqueue`, `schedule`, `indexMissing`); the broker remembers it
   * until the task leaves the index. @default none
   */
  key?: string;
}

/** A task that becomes runnable at `runAt` (epoch milliseconds). */
export interface DelayedEntry extends QueueEntry {
  runAt: number;
}

/** A task held under a lease. */
export interface LeaseRef {
  id: string;
  queue: string;
  /**
   * `lease` only (an index rebuild restoring the leases of running attempts): the task's type
   * and concurrency key, so that the running counts of limits count it again. @default unknown: not counted
   */
  type?: string;
  key?: string;
}

/**
 * The marker of the dispatch index's generation. An index that was lost (Redis restarted
 * empty, `FLUSHALL`) has no marker; one server then wins the right to rebuild it from
 * PostgreSQL (`rebuilding`, with an expiry, so a rebuilder that dies lets another try), and
 * marks it `ready` with a new token, which the other servers adopt. See
 * `src/server/engine/index-guard.ts`.
 */
export interface IndexEpoch {
  state: "ready" | "rebuilding";
  /** Random per rebuild; a new token means the index was rebuilt. */
  token: string;
}

/** Counts of one queue. */
export interface QueueCounts {
  pending: number;
  delayed: number;
  leased: number;
}

/** An encoded event about one task. */
export interface TaskEventPayload {
  readonly taskId: string;
  readonly payload: Uint8Array;
}

/** Where a control message goes: one server, or every server. */
export type ControlTarget = { server: string } | "fleet";

/** Stops a subscription. */
export type Unsubscribe = () => Promise<void>;

export interface Broker {
  /**
   * Sets the dispatch limits in force (`core/dispatch-limits.ts`), which every later `claim`
   * enforces atomically with the leases it takes: fleet-wide running counts per type, queue and
   * key (counted with the leases, in the index every server shares), and rate limits as token
   * buckets. Each server calls it with the same table (read from PostgreSQL every second).
   */
  setLimits(limits: LimitTable): void;

  /** Adds runnable tasks to their queues and wakes the dispatchers of every server. */
  enqueue(entries: readonly QueueEntry[]): Promise<void>;

  /** Adds tasks that become runnable later. */
  schedule(entries: readonly DelayedEntry[]): Promise<void>;

  /**
   * Moves up to `limit` delayed tasks of `queue` whose time has come (`runAt <= now`) into
   * the runnable set, and wakes dispatchers when it moved any.
   * @returns the moved ids, and the run time of the earliest still-delayed task (null: none).
   */
  promoteDue(queue: string, now: number, limit: number): Promise<{ promoted: string[]; nextRunAt: number | null }>;

  /**
   * Atomically takes up to `count` runnable tasks of `queue` whose type is one of `types`
   * (highest priority first, FIFO within a priority across those types) and leases each until
   * `leaseUntil` (epoch ms). Tasks of other types are neither taken nor passed over one by one:
   * they wait, in their own order, for a worker that serves them.
   */
  claim(queue: string, types: readonly string[], count: number, leaseUntil: number): Promise<string[]>;

  /** Extends the leases that still exist to `leaseUntil`; leases already released stay released. */
  renew(leases: readonly LeaseRef[], leaseUntil: number): Promise<void>;

  /**
   * Creates or moves leases to `leaseUntil` (unlike `renew`, a missing lease is created): the
   * leases of running attempts, restored by an index rebuild so that their holders keep
   * renewing them and the reaper resolves the orphans once they expire.
   */
  lease(leases: readonly LeaseRef[], leaseUntil: number): Promise<void>;

  /** Drops leases (the attempt finished). */
  release(leases: readonly LeaseRef[]): Promise<void>;

  /**
   * Atomically drops each task's lease and puts it back: runnable at once when `runAt` is
   * absent or due, else delayed. Wakes dispatchers for what became runnable.
   */
  requeue(entries: readonly (QueueEntry & { runAt?: number })[]): Promise<void>;

  /**
   * Removes tasks from the runnable and delayed sets and drops their leases (cancel).
   * Each entry carries the type and priority the task was queued with: the Redis broker keeps a
   * task in its type's runnable set and both inside the delayed member
   * (`"<priority>|<type>|<id>"`), so it needs them to find the task.
   */
  remove(entries: readonly QueueEntry[]): Promise<void>;

  /**
   * Takes up to `limit` leases of `queue` whose deadline passed before `now`, and pushes their
   * deadline to `reclaimUntil` so that no other server's reaper takes them at the same time.
   */
  reapExpired(queue: string, now: number, limit: number, reclaimUntil: number): Promise<string[]>;

  /** The index's generation marker; null when there is none (the index was lost, or never built). */
  readEpoch(): Promise<IndexEpoch | null>;

  /**
   * Claims the rebuild of a lost index: sets the marker to `rebuilding` with `token`, expiring
   * after `ttlMs`, unless a marker exists. @returns whether this caller won the claim.
   */
  beginRebuild(token: string, ttlMs: number): Promise<boolean>;

  /** Pushes the expiry of this caller's `rebuilding` marker to `ttlMs` from now. @returns false when the marker is no longer its own. */
  extendRebuild(token: string, ttlMs: number): Promise<boolean>;

  /**
   * Ends this caller's rebuild: `"ready"` makes the marker `ready` with the same token and no
   * expiry; `"abandoned"` deletes it, so that the next check tries again.
   * @returns false when the marker was no longer its own (the index was lost again meanwhile).
   */
  endRebuild(token: string, outcome: "ready" | "abandoned"): Promise<boolean>;

  /** Every queue that has ever held a task. */
  queues(): Promise<string[]>;

  /** Sizes of a queue's sets. */
  counts(queue: string): Promise<QueueCounts>;

  /** Calls `listener` with a queue name whenever any server makes tasks of it runnable. */
  onWake(listener: (queue: string) => void): Promise<Unsubscribe>;

  /** Sends events about tasks to their subscribers on every server, in order, in one call. */
  publishTaskEvents(events: readonly TaskEventPayload[]): Promise<void>;

  /** Receives the events published about one task. */
  subscribeTaskEvents(taskId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe>;

  /**
   * Indexes the tasks that are in none of the index's sets (runnable, delayed, leased): runnable
   * at once when `runAt` is absent or due, else delayed. Tasks already indexed anywhere are
   * left as they are (no lease is disturbed, no place in line lost). Wakes dispatchers for what
   * became runnable. Used by the reconciler, which finds stored tasks the index lost.
   * @returns how many tasks were added.
   */
  indexMissing(entries: readonly (QueueEntry & { runAt?: number })[]): Promise<number>;

  /**
   * Control plane: sends a message to one server (`{ server: id }`) or to every server
   * (`"fleet"`). Delivery is at most once (pub/sub): senders that need certainty re-check state.
   */
  publishControl(target: ControlTarget, payload: Uint8Array): Promise<void>;

  /** Receives the control messages sent to `serverId` and to the whole fleet. */
  onControl(serverId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe>;

  /**
   * Takes or keeps the lease of a periodic duty that one server at a time runs (retention,
   * reconciler, schedules): true when `holder` holds it for `ttlMs` from now, false when
   * another holder does.
   */
  holdDutyLease(name: string, holder: string, ttlMs: number): Promise<boolean>;

  /** Gives a duty lease up, if `holder` holds it. */
  releaseDutyLease(name: string, holder: string): Promise<void>;

  /** Answers when the broker can be reached; throws otherwise. */
  ping(): Promise<void>;

  /** Closes connections; safe to call twice. */
  close(): Promise<void>;
}
