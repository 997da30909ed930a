/**
 * The runnable tasks of one queue in the in-process broker, per type and per concurrency key,
 * ordered by priority and then fairly across keys (README "Limits and fairness"; the Redis
 * broker keeps the same order).
 *
 * Fairness is start-time fair queuing: each task gets a virtual start, `max(V, last(key)) + 1`,
 * where `last(key)` is the virtual start of the key's previous task in the queue and `V` the
 * largest virtual start claimed so far. A key that submits 100,000 tasks at once has them at
 * V+1 … V+100,000; a key that submits 10 right after gets V'+1 … V'+10, interleaved with the
 * first key's from the next claim on: round-robin within a priority, a key that arrives joining
 * the round at its end (ties go by arrival). Tasks without a key are
 * one key of their own (`""`), so a queue without keys is plain FIFO. Order: priority first
 * (higher first), then virtual start, then arrival.
 *
 * A type's tasks without a key are one set; those with a key one set per key, and the type's
 * keys a set of their own ordered by the first task of each (the "ring"), so a claim finds the
 * best key in O(log keys). A key at its limit is parked: out of the ring (its tasks stay in
 * their set and keep their places) until a slot or a token frees it, so it never blocks the
 * keys behind it.
 */
import { PRIORITY_MAX } from "../../core/limits.js";
import { OrderedIdSet, stampSource, type OrderedMember } from "./ordered-id-set.js";

/** The rank of a task: priority first (higher first), then its virtual start. */
function rankOf(priority: number, virtual: number): number {
  return (PRIORITY_MAX - priority) * 2 ** 32 + virtual;
}

/** The virtual start a rank holds. */
function virtualOf(rank: number): number {
  return rank % 2 ** 32;
}

/** A type's runnable tasks. */
interface TypeIndex {
  /** Tasks without a key. */
  plain: OrderedIdSet;
  /** Tasks per key. */
  byKey: Map<string, OrderedIdSet>;
  /** Keys with tasks that are not parked, ranked by their first task (rank and stamp). */
  ring: OrderedIdSet;
}

/** The best runnable task of a type, as a claim sees it. */
export interface RunnableHead {
  type: string;
  /** The key; undefined for a task without one. */
  key: string | undefined;
  member: OrderedMember;
}

/** See the file header. */
export class RunnableIndex {
  /** Arrival order, shared by every set of the queue so that first members compare. */
  readonly #arrivals = stampSource();
  readonly #types = new Map<string, TypeIndex>();
  /** Per key (`""`: no key), the virtual start of its last task. */
  readonly #lastVirtual = new Map<string, number>();
  /** The largest virtual start claimed. */
  #virtualNow = 0;
  /** Keys out of their type's ring: type → keys. */
  readonly #parked = new Map<string, Set<string>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Whether `id` is runnable in `type` (under `key`). */
  has(id: string, type: string, key: string | undefined): boolean {
    const index = this.#types.get(type);
    if (index === undefined) return false;
    return key === undefined ? index.plain.has(id) : index.byKey.get(key)?.has(id) === true;
  }

  /** Adds a task unless it is runnable already (where it keeps its place). @returns whether it was added. */
  add(id: string, type: string, priority: number, key: string | undefined): boolean {
    let index = this.#types.get(type);
    if (index === undefined) {
      index = { plain: new OrderedIdSet(this.#arrivals), byKey: new Map(), ring: new OrderedIdSet() };
      this.#types.set(type, index);
    }
    let set = index.plain;
    if (key !== undefined) {
      let keySet = index.byKey.get(key);
      if (keySet === undefined) {
        keySet = new OrderedIdSet(this.#arrivals);
        index.byKey.set(key, keySet);
      }
      set = keySet;
    }
    if (set.has(id)) return false;
    const group = key ?? "";
    const virtual = Math.max(this.#virtualNow, this.#lastVirtual.get(group) ?? 0) + 1;
    this.#lastVirtual.set(group, virtual);
    set.add(id, rankOf(priority, virtual), priority);
    this.#size += 1;
    if (key !== undefined) this.#placeKey(type, index, key);
    return true;
  }

  /** Removes a task. @returns whether it was runnable. */
  delete(id: string, type: string, key: string | undefined): boolean {
    const index = this.#types.get(type);
    if (index === undefined) return false;
    const set = key === undefined ? index.plain : index.byKey.get(key);
    if (set === undefined || !set.delete(id)) return false;
    this.#size -= 1;
    if (key !== undefined) this.#placeKey(type, index, key);
    this.#dropIfEmpty(type, index);
    return true;
  }

  /** The best task of `type` that is not parked: its plain head or its best key's head. */
  head(type: string): RunnableHead | undefined {
    const index = this.#types.get(type);
    if (index === undefined) return undefined;
    const plain = index.plain.peek();
    const keyed = index.ring.peek();
    const keyedHead = keyed === undefined ? undefined : index.byKey.get(keyed.id)?.peek();
    if (keyedHead !== undefined && keyed !== undefined && (plain === undefined || before(keyedHead, plain))) {
      return { type, key: keyed.id, member: keyedHead };
    }
    return plain === undefined ? undefined : { type, key: undefined, member: plain };
  }

  /** Takes `head` (from {@link head}) out of the index; the queue's virtual time moves to it. */
  take(head: RunnableHead): void {
    const index = this.#types.get(head.type);
    if (index === undefined) return;
    this.delete(head.member.id, head.type, head.key);
    this.#virtualNow = Math.max(this.#virtualNow, virtualOf(head.member.rank));
    const group = head.key ?? "";
    // A key with nothing left beyond the present is forgotten (it would start at V + 1 anyway).
    if ((this.#lastVirtual.get(group) ?? 0) <= this.#virtualNow) this.#lastVirtual.delete(group);
  }

  /** Takes `key` of `type` out of the ring: it is at a limit. */
  park(type: string, key: string): void {
    const index = this.#types.get(type);
    if (index === undefined) return;
    let parked = this.#parked.get(type);
    if (parked === undefined) {
      parked = new Set();
      this.#parked.set(type, parked);
    }
    parked.add(key);
    index.ring.delete(key);
  }

  /** Puts `key` back in the ring of `type`, or of every type when `type` is undefined. */
  unpark(key: string, type?: string): void {
    for (const [parkedType, keys] of this.#parked) {
      if (type !== undefined && parkedType !== type) continue;
      if (!keys.delete(key)) continue;
      if (keys.size === 0) this.#parked.delete(parkedType);
      const index = this.#types.get(parkedType);
      if (index !== undefined) this.#placeKey(parkedType, index, key);
    }
  }

  /** Puts every parked key back (the limits changed). */
  unparkAll(): void {
    const all = [...this.#parked];
    this.#parked.clear();
    for (const [type, keys] of all) {
      const index = this.#types.get(type);
      if (index !== undefined) for (const key of keys) this.#placeKey(type, index, key);
    }
  }

  /** Drops everything. */
  clear(): void {
    this.#types.clear();
    this.#parked.clear();
    this.#lastVirtual.clear();
    this.#size = 0;
  }

  /** Sets `key`'s place in the ring from its first task, or removes it (empty or parked). */
  #placeKey(type: string, index: TypeIndex, key: string): void {
    const set = index.byKey.get(key);
    const first = set?.peek();
    if (set === undefined || first === undefined) {
      index.byKey.delete(key);
      index.ring.delete(key);
      this.#parked.get(type)?.delete(key);
      return;
    }
    if (this.#parked.get(type)?.has(key) === true) return;
    index.ring.set(key, first.rank, 0, first.stamp);
  }

  #dropIfEmpty(type: string, index: TypeIndex): void {
    if (index.plain.size === 0 && index.byKey.size === 0) {
      this.#types.delete(type);
      this.#parked.delete(type);
    }
  }
}

/** Whether `a` runs before `b`: lower rank, then earlier arrival. */
export function before(a: OrderedMember, b: OrderedMember): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.stamp < b.stamp);
}
