/**
 * The dispatch index of one queue in the in-process broker: the same sets as the Redis broker
 * keeps per queue (`src/broker/redis/keys.ts`), with the semantics of its Lua scripts
 * (`src/broker/redis/lua/`), one method per script. Every method runs synchronously, so each
 * is atomic without locks.
 *
 * Runnable tasks are kept per type, like Redis's `pending:<type>` sets, so that a claim reads
 * only the types its worker serves. The runnable sets of one queue take their stamps from one
 * source, the counterpart of the queue's arrival counter in Redis: their first members compare
 * by `(minus priority, stamp)`, so a claim over several types merges them in exact
 * priority-then-FIFO order.
 *
 * Differences from Redis, where Redis's behaviour comes from its encoding rather than a choice:
 * - The delayed set is keyed by id alone (Redis keys it by `"<priority>|<type>|<id>"`), so
 *   `remove`, `requeue` and `indexMissing` find a delayed task whatever priority they are given,
 *   and scheduling an id again moves it (Redis would add a second member when the priority differs).
 * - Equal run times and equal lease deadlines keep the order the tasks were scheduled or
 *   leased in (Redis orders them by member bytes).
 */
import type { QueueCounts, QueueEntry } from "../broker.js";
import { OrderedIdSet, stampSource } from "./ordered-id-set.js";
import type { OrderedMember } from "./ordered-id-set.js";

/** An entry of `requeue` and `indexMissing`: runnable when `runAt` is absent or due, else delayed. */
export type RequeueEntry = QueueEntry & { runAt?: number };

/** The runnable, delayed and leased tasks of one queue. */
export class MemoryQueue {
  /** The queue's arrival order, shared by the runnable sets of its types. */
  readonly #arrivals = stampSource();
  /** Runnable ids per type (a type without any has no set); rank `-priority`, FIFO across types. */
  readonly #pending = new Map<string, OrderedIdSet>();
  /** Ids runnable later; rank = run time, aux = priority. */
  readonly #delayed = new OrderedIdSet();
  /** The type of each delayed id. */
  readonly #delayedTypes = new Map<string, string>();
  /** Leased ids; rank = lease deadline. */
  readonly #leases = new OrderedIdSet();

  /** `enqueue-2.lua`: adds runnable ids; an id already runnable keeps its place. @returns how many were new. */
  enqueue(entries: readonly QueueEntry[]): number {
    let added = 0;
    for (const entry of entries) if (this.#addRunnable(entry.id, entry.type, entry.priority)) added += 1;
    return added;
  }

  /** `schedule-1.lua`: adds (or moves) ids that become runnable at `runAt`. @returns how many were new. */
  schedule(entries: readonly (QueueEntry & { runAt: number })[]): number {
    let added = 0;
    for (const entry of entries) {
      if (!this.#delayed.has(entry.id)) added += 1;
      this.#delay(entry, entry.runAt);
    }
    return added;
  }

  /**
   * `promote-due-3.lua`: moves up to `limit` ids whose run time is `<= now` to their type's
   * runnable set, in run-time order, behind what is runnable at their priority.
   * @returns the moved ids, and the run time of the earliest id still delayed (null: none).
   */
  promoteDue(now: number, limit: number): { promoted: string[]; nextRunAt: number | null } {
    const promoted: string[] = [];
    while (promoted.length < limit) {
      const due = this.#delayed.peek();
      if (due === undefined || due.rank > now) break;
      this.#delayed.pop();
      const type = this.#delayedTypes.get(due.id) ?? "";
      this.#delayedTypes.delete(due.id);
      this.#addRunnable(due.id, type, due.aux);
      promoted.push(due.id);
    }
    return { promoted, nextRunAt: this.#delayed.peek()?.rank ?? null };
  }

  /**
   * `claim-1.lua`: takes up to `count` runnable ids of the given types in dispatch order (the
   * best first member of their sets, one at a time) and leases them until `leaseUntil`.
   * Cost: O(count * types) comparisons plus O(log n) per id taken.
   */
  claim(types: readonly string[], count: number, leaseUntil: number): string[] {
    const sets = new Map<string, OrderedIdSet>();
    for (const type of types) {
      const set = this.#pending.get(type);
      if (set !== undefined) sets.set(type, set);
    }
    const claimed: string[] = [];
    while (claimed.length < count && sets.size > 0) {
      let best: { type: string; set: OrderedIdSet; head: OrderedMember } | undefined;
      for (const [type, set] of sets) {
        const head = set.peek();
        if (head === undefined) continue;
        if (best === undefined || head.rank < best.head.rank || (head.rank === best.head.rank && head.stamp < best.head.stamp)) {
          best = { type, set, head };
        }
      }
      if (best === undefined) break;
      best.set.pop();
      if (best.set.size === 0) {
        sets.delete(best.type);
        this.#pending.delete(best.type);
      }
      this.#leases.set(best.head.id, leaseUntil);
      claimed.push(best.head.id);
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
   * `<= now`, else delayed; an id ends up in exactly one of its runnable set and the delayed set.
   * @returns how many became runnable (an id runnable already keeps its place and is not counted).
   */
  requeue(entries: readonly RequeueEntry[], now: number): number {
    let added = 0;
    for (const entry of entries) {
      this.#leases.delete(entry.id);
      if (entry.runAt === undefined || entry.runAt <= now) {
        this.#undelay(entry.id);
        if (this.#addRunnable(entry.id, entry.type, entry.priority)) added += 1;
      } else {
        this.#deleteRunnable(entry.id, entry.type);
        this.#delay(entry, entry.runAt);
      }
    }
    return added;
  }

  /** `remove-2.lua`: removes ids from their runnable set, the delayed set and leases (cancel). @returns members removed. */
  remove(entries: readonly QueueEntry[]): number {
    let removed = 0;
    for (const entry of entries) {
      if (this.#deleteRunnable(entry.id, entry.type)) removed += 1;
      if (this.#undelay(entry.id)) removed += 1;
      if (this.#leases.delete(entry.id)) removed += 1;
    }
    return removed;
  }

  /**
   * `index-missing-4.lua`: indexes the ids that are in none of the sets (runnable when `runAt`
   * is absent or `<= now`, else delayed), and leaves every other exactly as it is.
   * @returns how many were added, and how many of those became runnable.
   */
  indexMissing(entries: readonly RequeueEntry[], now: number): { added: number; runnable: number } {
    let added = 0;
    let runnable = 0;
    for (const entry of entries) {
      if (this.#pending.get(entry.type)?.has(entry.id) === true || this.#delayed.has(entry.id) || this.#leases.has(entry.id)) continue;
      added += 1;
      if (entry.runAt === undefined || entry.runAt <= now) {
        this.#addRunnable(entry.id, entry.type, entry.priority);
        runnable += 1;
      } else {
        this.#delay(entry, entry.runAt);
      }
    }
    return { added, runnable };
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

  /** `counts-3.lua`: sizes of the sets, runnable summed over the types. */
  counts(): QueueCounts {
    let pending = 0;
    for (const set of this.#pending.values()) pending += set.size;
    return { pending, delayed: this.#delayed.size, leased: this.#leases.size };
  }

  /** Drops everything (the broker closed). */
  clear(): void {
    for (const set of this.#pending.values()) set.clear();
    this.#pending.clear();
    this.#delayed.clear();
    this.#delayedTypes.clear();
    this.#leases.clear();
  }

  /** Adds `id` to its type's runnable set unless it is there. @returns whether it was added. */
  #addRunnable(id: string, type: string, priority: number): boolean {
    let set = this.#pending.get(type);
    if (set === undefined) {
      set = new OrderedIdSet(this.#arrivals);
      this.#pending.set(type, set);
    }
    return set.add(id, -priority);
  }

  /** @returns whether `id` was runnable. */
  #deleteRunnable(id: string, type: string): boolean {
    const set = this.#pending.get(type);
    if (set === undefined || !set.delete(id)) return false;
    if (set.size === 0) this.#pending.delete(type);
    return true;
  }

  #delay(entry: QueueEntry, runAt: number): void {
    this.#delayed.set(entry.id, runAt, entry.priority);
    this.#delayedTypes.set(entry.id, entry.type);
  }

  /** @returns whether `id` was delayed. */
  #undelay(id: string): boolean {
    this.#delayedTypes.delete(id);
    return this.#delayed.delete(id);
  }
}
