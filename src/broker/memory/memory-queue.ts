/**
 * The dispatch index of one queue in the in-process broker: the same three sets as the Redis
 * broker keeps per queue (`src/broker/redis/keys.ts`), with the semantics of its Lua scripts
 * (`src/broker/redis/lua/`), one method per script. Every method runs synchronously, so each
 * is atomic without locks.
 *
 * Differences from Redis, where Redis's behaviour comes from its encoding rather than a choice:
 * - The delayed set is keyed by id alone (Redis keys it by `"<priority>|<id>"`), so `remove`
 *   and `requeue` find a delayed task whatever priority they are given, and scheduling an id
 *   again moves it (Redis would add a second member when the priority differs).
 * - Equal run times and equal lease deadlines keep the order the tasks were scheduled or
 *   leased in (Redis orders them by member bytes).
 */
import type { QueueCounts, QueueEntry } from "../broker.js";
import { OrderedIdSet } from "./ordered-id-set.js";

/** An entry of `requeue`: runnable when `runAt` is absent or due, else delayed. */
export type RequeueEntry = QueueEntry & { runAt?: number };

/** The runnable, delayed and leased tasks of one queue. */
export class MemoryQueue {
  /** Runnable ids; rank `-priority`, FIFO within a priority. */
  readonly #pending = new OrderedIdSet();
  /** Ids runnable later; rank = run time, aux = priority. */
  readonly #delayed = new OrderedIdSet();
  /** Leased ids; rank = lease deadline. */
  readonly #leases = new OrderedIdSet();

  /** `enqueue-2.lua`: adds runnable ids; an id already runnable keeps its place. @returns how many were new. */
  enqueue(entries: readonly QueueEntry[]): number {
    let added = 0;
    for (const entry of entries) if (this.#pending.add(entry.id, -entry.priority)) added += 1;
    return added;
  }

  /** `schedule-1.lua`: adds (or moves) ids that become runnable at `runAt`. @returns how many were new. */
  schedule(entries: readonly (QueueEntry & { runAt: number })[]): number {
    let added = 0;
    for (const entry of entries) {
      if (!this.#delayed.has(entry.id)) added += 1;
      this.#delayed.set(entry.id, entry.runAt, entry.priority);
    }
    return added;
  }

  /**
   * `promote-due-3.lua`: moves up to `limit` ids whose run time is `<= now` to the runnable set,
   * in run-time order, behind what is runnable at their priority.
   * @returns the moved ids, and the run time of the earliest id still delayed (null: none).
   */
  promoteDue(now: number, limit: number): { promoted: string[]; nextRunAt: number | null } {
    const promoted: string[] = [];
    while (promoted.length < limit) {
      const due = this.#delayed.peek();
      if (due === undefined || due.rank > now) break;
      this.#delayed.pop();
      this.#pending.add(due.id, -due.aux);
      promoted.push(due.id);
    }
    return { promoted, nextRunAt: this.#delayed.peek()?.rank ?? null };
  }

  /** `claim-2.lua`: takes up to `count` runnable ids in dispatch order and leases them until `leaseUntil`. */
  claim(count: number, leaseUntil: number): string[] {
    const claimed: string[] = [];
    while (claimed.length < count) {
      const next = this.#pending.pop();
      if (next === undefined) break;
      this.#leases.set(next.id, leaseUntil);
      claimed.push(next.id);
    }
    return claimed;
  }

  /** `renew-1.lua`: moves existing leases to `leaseUntil`; never creates one. @returns how many existed. */
  renew(ids: readonly string[], leaseUntil: number): number {
    let renewed = 0;
    for (const id of ids) {
      if (!this.#leases.has(id)) continue;
      this.#leases.set(id, leaseUntil);
      renewed += 1;
    }
    return renewed;
  }

  /** `lease-1.lua`: creates or moves leases to `leaseUntil`. @returns how many were created. */
  lease(ids: readonly string[], leaseUntil: number): number {
    let created = 0;
    for (const id of ids) {
      if (!this.#leases.has(id)) created += 1;
      this.#leases.set(id, leaseUntil);
    }
    return created;
  }

  /** `release-1.lua`: drops leases. @returns how many existed. */
  release(ids: readonly string[]): number {
    let released = 0;
    for (const id of ids) if (this.#leases.delete(id)) released += 1;
    return released;
  }

  /**
   * `requeue-4.lua`: drops each lease and puts the id back, runnable when `runAt` is absent or
   * `<= now`, else delayed; an id ends up in exactly one of the two sets.
   * @returns how many became runnable (an id runnable already keeps its place and is not counted).
   */
  requeue(entries: readonly RequeueEntry[], now: number): number {
    let added = 0;
    for (const entry of entries) {
      this.#leases.delete(entry.id);
      if (entry.runAt === undefined || entry.runAt <= now) {
        this.#delayed.delete(entry.id);
        if (this.#pending.add(entry.id, -entry.priority)) added += 1;
      } else {
        this.#pending.delete(entry.id);
        this.#delayed.set(entry.id, entry.runAt, entry.priority);
      }
    }
    return added;
  }

  /** `remove-3.lua`: removes ids from the three sets (cancel). @returns members removed, over the three. */
  remove(ids: readonly string[]): number {
    let removed = 0;
    for (const id of ids) {
      if (this.#pending.delete(id)) removed += 1;
      if (this.#delayed.delete(id)) removed += 1;
      if (this.#leases.delete(id)) removed += 1;
    }
    return removed;
  }

  /**
   * `reap-expired-1.lua`: takes up to `limit` leases whose deadline is `< now`, earliest first,
   * and moves their deadline to `reclaimUntil`.
   */
  reapExpired(now: number, limit: number, reclaimUntil: number): string[] {
    const expired: string[] = [];
    while (expired.length < limit) {
      const lease = this.#leases.peek();
      if (lease === undefined || lease.rank >= now) break;
      this.#leases.pop();
      expired.push(lease.id);
    }
    // After the loop: with `reclaimUntil < now` a pushed lease would otherwise be taken again.
    for (const id of expired) this.#leases.set(id, reclaimUntil);
    return expired;
  }

  /** Sizes of the three sets. */
  counts(): QueueCounts {
    return { pending: this.#pending.size, delayed: this.#delayed.size, leased: this.#leases.size };
  }

  /** Drops everything (the broker closed). */
  clear(): void {
    this.#pending.clear();
    this.#delayed.clear();
    this.#leases.clear();
  }
}
