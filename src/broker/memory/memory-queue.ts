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
import { LimitGate, type Counted, type QueueLimits } from "./limit-gate.js";
import { OrderedIdSet } from "./ordered-id-set.js";
import { before, RunnableIndex, type RunnableHead } from "./runnable-index.js";

/** An entry of `requeue` and `indexMissing`: runnable when `runAt` is absent or due, else delayed. */
export type RequeueEntry = QueueEntry & { runAt?: number };

/** What a claim took, and when a rate limit lets the next task of the queue start (null: no rate stopped it). */
export interface ClaimResult {
  ids: string[];
  retryAt: number | null;
}

/** The runnable, delayed and leased tasks of one queue. */
export class MemoryQueue {
  /** Runnable ids per type and key, in priority then fair order (`./runnable-index.ts`). */
  readonly #pending = new RunnableIndex();
  /** The concurrency key of each indexed task that has one (runnable, delayed or leased). */
  readonly #keys = new Map<string, string>();
  /** Running counts and rate windows (`./limit-gate.ts`). */
  readonly #gate = new LimitGate();
  /** Keys parked by a rate until a time: `"<type>\0<key>"`, rank = when a token is back. */
  readonly #rateParked = new OrderedIdSet();
  /** Ids runnable later; rank = run time, aux = priority. */
  readonly #delayed = new OrderedIdSet();
  /** The type of each delayed id. */
  readonly #delayedTypes = new Map<string, string>();
  /** Leased ids; rank = lease deadline. */
  readonly #leases = new OrderedIdSet();

  /** `enqueue-2.lua`: adds runnable ids; an id already runnable keeps its place. @returns how many were new. */
  enqueue(entries: readonly QueueEntry[]): number {
    let added = 0;
    for (const entry of entries) {
      this.#remember(entry);
      if (this.#addRunnable(entry.id, entry.type, entry.priority)) added += 1;
    }
    return added;
  }

  /** `schedule-1.lua`: adds (or moves) ids that become runnable at `runAt`. @returns how many were new. */
  schedule(entries: readonly (QueueEntry & { runAt: number })[]): number {
    let added = 0;
    for (const entry of entries) {
      if (!this.#delayed.has(entry.id)) added += 1;
      this.#remember(entry);
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
   * best first member of their sets, one at a time) and leases them until `leaseUntil`, within
   * `limits`: a task over a limit is passed over without blocking the ones behind it (a full
   * type is left for the claim, a full key parked until a slot or token frees it), and a full
   * queue ends the claim. Cost: O(count * types) comparisons plus O(log n) per id taken or key parked.
   */
  claim(types: readonly string[], count: number, leaseUntil: number, limits: QueueLimits, now: number): ClaimResult {
    this.#unparkDue(now);
    const open = new Set(types);
    const claimed: string[] = [];
    let retryAt: number | null = null;
    const later = (until: number | undefined) => {
      if (until !== undefined && (retryAt === null || until < retryAt)) retryAt = until;
    };
    while (claimed.length < count && open.size > 0) {
      let best: RunnableHead | undefined;
      for (const type of open) {
        const head = this.#pending.head(type);
        if (head === undefined) open.delete(type);
        else if (best === undefined || before(head.member, best.member)) best = head;
      }
      if (best === undefined) break;
      const refusal = this.#gate.check(limits, best.type, best.key, now);
      if (refusal !== undefined) {
        later(refusal.until);
        if (refusal.scope === "queue") break;
        if (refusal.scope === "type" || best.key === undefined) open.delete(best.type);
        else {
          this.#pending.park(best.type, best.key);
          if (refusal.until !== undefined) this.#rateParked.set(`${best.type}\u0000${best.key}`, refusal.until);
        }
        continue;
      }
      this.#pending.take(best);
      this.#gate.take(limits, best.member.id, best.type, best.key, now);
      this.#leases.set(best.member.id, leaseUntil);
      claimed.push(best.member.id);
    }
    return { ids: claimed, retryAt };
  }

  /** The running counts of this queue's limits (ExplainTask, tests). */
  get gate(): LimitGate {
    return this.#gate;
  }

  /** Puts back in their rings the keys whose rate allows a start again. */
  #unparkDue(now: number): void {
    for (;;) {
      const due = this.#rateParked.peek();
      if (due === undefined || due.rank > now) return;
      this.#rateParked.pop();
      const [type, key] = due.id.split("\u0000") as [string, string];
      this.#pending.unpark(key, type);
    }
  }

  /** The limits changed: every parked key is tried again. */
  limitsChanged(): void {
    this.#pending.unparkAll();
    this.#rateParked.clear();
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
  lease(leases: readonly { id: string; type?: string; key?: string }[], leaseUntil: number): number {
    let created = 0;
    for (const lease of leases) {
      if (!this.#leases.has(lease.id)) created += 1;
      this.#leases.set(lease.id, leaseUntil);
      if (lease.key !== undefined) this.#keys.set(lease.id, lease.key);
      if (lease.type !== undefined) this.#gate.count(lease.id, { type: lease.type, key: lease.key });
    }
    return created;
  }

  /** `release-1.lua`: drops leases (the task left the index). @returns what the leases counted under (`./limit-gate.ts`). */
  release(ids: readonly string[]): Counted[] {
    const freed: Counted[] = [];
    for (const id of ids) {
      this.#leases.delete(id);
      this.#keys.delete(id);
      this.#uncount(id, freed);
    }
    return freed;
  }

  /**
   * `requeue-4.lua`: drops each lease and puts the id back, runnable when `runAt` is absent or
   * `<= now`, else delayed; an id ends up in exactly one of its runnable set and the delayed set.
   * @returns how many became runnable (an id runnable already keeps its place and is not counted).
   */
  requeue(entries: readonly RequeueEntry[], now: number, freed: Counted[] = []): number {
    let added = 0;
    for (const entry of entries) {
      this.#remember(entry);
      this.#leases.delete(entry.id);
      this.#uncount(entry.id, freed);
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
  remove(entries: readonly QueueEntry[], freed: Counted[] = []): number {
    let removed = 0;
    for (const entry of entries) {
      if (this.#deleteRunnable(entry.id, entry.type)) removed += 1;
      if (this.#undelay(entry.id)) removed += 1;
      if (this.#leases.delete(entry.id)) removed += 1;
      this.#uncount(entry.id, freed);
      this.#keys.delete(entry.id);
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
      const key = entry.key ?? this.#keys.get(entry.id);
      if (this.#pending.has(entry.id, entry.type, key) || this.#delayed.has(entry.id) || this.#leases.has(entry.id)) continue;
      added += 1;
      this.#remember(entry);
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
    return { pending: this.#pending.size, delayed: this.#delayed.size, leased: this.#leases.size };
  }

  /** Drops everything (the broker closed). */
  clear(): void {
    this.#pending.clear();
    this.#keys.clear();
    this.#gate.clear();
    this.#rateParked.clear();
    this.#delayed.clear();
    this.#delayedTypes.clear();
    this.#leases.clear();
  }

  /** Adds `id` to its type's runnable set unless it is there. @returns whether it was added. */
  #addRunnable(id: string, type: string, priority: number): boolean {
    return this.#pending.add(id, type, priority, this.#keys.get(id));
  }

  /** @returns whether `id` was runnable. */
  #deleteRunnable(id: string, type: string): boolean {
    return this.#pending.delete(id, type, this.#keys.get(id));
  }

  /** Keeps the key an entry brings (an entry without one leaves what the queue knows). */
  #remember(entry: QueueEntry): void {
    if (entry.key !== undefined) this.#keys.set(entry.id, entry.key);
  }

  /** Uncounts `id`'s lease; a key it frees is tried again at once. */
  #uncount(id: string, freed: Counted[]): void {
    const counted = this.#gate.uncount(id);
    if (counted === undefined) return;
    freed.push(counted);
    if (counted.key !== undefined) this.#pending.unpark(counted.key);
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
