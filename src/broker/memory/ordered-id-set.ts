/**
 * A set of ids ordered by a rank, like a Redis sorted set, for the in-process broker: the
 * runnable tasks of a queue (rank: minus the priority), its delayed tasks (rank: run time) and
 * its leases (rank: deadline).
 *
 * Equal ranks keep the order in which the ids were added (each add takes the next stamp), so
 * the runnable set is FIFO within a priority without an arrival counter in the rank. Sets that
 * share one stamp source (the runnable sets of one queue's types) are ordered comparably: their
 * first members can be merged by `(rank, stamp)`.
 *
 * Deletion is lazy: a map says which stamp is the live element of each id; deleting or moving
 * an id only changes the map, and the heap's elements whose stamp is no longer live are
 * skipped when they come to the top. When such dead elements outnumber the live ones, the
 * heap is rebuilt without them, so memory stays proportional to the live set and every
 * operation stays O(log n) amortised.
 */
import { CompactHeap } from "./compact-heap.js";

/** Dead heap elements tolerated beyond the live count before a rebuild. */
const COMPACTION_SLACK = 1024;

/** One member of an {@link OrderedIdSet}. */
export interface OrderedMember {
  id: string;
  rank: number;
  /** The integer given with the id (a priority); 0 when none was. */
  aux: number;
  /** The stamp of its addition: orders equal ranks, across the sets of one stamp source too. */
  stamp: number;
}

/** Hands out increasing stamps; one per set unless several sets must be comparable. */
export type StampSource = () => number;

/** A new stamp source counting from 0. */
export function stampSource(): StampSource {
  let next = 0;
  return () => next++;
}

/** Ids ordered by `(rank, order of addition)`; see the file header. */
export class OrderedIdSet {
  readonly #heap = new CompactHeap();
  /** Live id → the stamp of its heap element. */
  readonly #live = new Map<string, number>();
  readonly #nextStamp: StampSource;

  /** @param stamps - where stamps come from; pass one source to sets whose members are merged. */
  constructor(stamps: StampSource = stampSource()) {
    this.#nextStamp = stamps;
  }

  /** Number of ids in the set. */
  get size(): number {
    return this.#live.size;
  }

  /** Whether `id` is in the set. */
  has(id: string): boolean {
    return this.#live.has(id);
  }

  /**
   * Adds `id` unless it is in the set already, where it keeps its place (Redis `ZADD NX`).
   * @returns whether it was added.
   */
  add(id: string, rank: number, aux = 0): boolean {
    if (this.#live.has(id)) return false;
    this.#insert(id, rank, aux, this.#nextStamp());
    return true;
  }

  /**
   * Adds `id`, or moves it when it is in the set (to the end of its new rank). `stamp` orders it
   * among equal ranks instead of the next one of the set's source: a set of keys ordered by the
   * first members of other sets takes their stamps (see `runnable-index.ts`). @default the next stamp
   */
  set(id: string, rank: number, aux = 0, stamp?: number): void {
    if (stamp !== undefined && this.#live.get(id) === stamp) return;
    this.#insert(id, rank, aux, stamp ?? this.#nextStamp());
    this.#compactIfSparse();
  }

  /** @returns whether `id` was in the set. */
  delete(id: string): boolean {
    if (!this.#live.delete(id)) return false;
    this.#compactIfSparse();
    return true;
  }

  /** The first member, without removing it; undefined when the set is empty. */
  peek(): OrderedMember | undefined {
    const id = this.#top();
    return id === undefined ? undefined : { id, rank: this.#heap.peekRank(), aux: this.#heap.peekAux(), stamp: this.#heap.peekStamp() };
  }

  /** Removes and returns the first member; undefined when the set is empty. */
  pop(): OrderedMember | undefined {
    const member = this.peek();
    if (member === undefined) return undefined;
    this.#heap.pop();
    this.#live.delete(member.id);
    if (this.#live.size === 0) this.#heap.clear();
    return member;
  }

  /** Removes every id. */
  clear(): void {
    this.#live.clear();
    this.#heap.clear();
  }

  #insert(id: string, rank: number, aux: number, stamp: number): void {
    this.#live.set(id, stamp);
    this.#heap.push(id, rank, stamp, aux);
  }

  /** Id of the first live element, after popping the dead ones above it. */
  #top(): string | undefined {
    for (;;) {
      const id = this.#heap.peekId();
      if (id === undefined || this.#live.get(id) === this.#heap.peekStamp()) return id;
      this.#heap.pop();
    }
  }

  #compactIfSparse(): void {
    const live = this.#live.size;
    if (live === 0) {
      this.#heap.clear();
      return;
    }
    if (this.#heap.size > 2 * live + COMPACTION_SLACK) {
      this.#heap.retain((id, stamp) => this.#live.get(id) === stamp);
    }
  }
}
