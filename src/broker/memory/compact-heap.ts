/**
 * A binary min-heap kept in parallel typed arrays rather than one object per element, because
 * the in-process broker holds every queued task of the embedded server (a million in the
 * benchmark): an element costs 20 bytes of keys and payload plus one reference to its id,
 * with no object header and nothing for the garbage collector to trace but the id strings.
 *
 * Elements are ordered by `rank`, then by `stamp`; the owner makes stamps unique, so the order
 * is total. `aux` is a small integer carried along (a priority).
 */

/** Slots allocated at first. */
const INITIAL_CAPACITY = 64;

/** A binary min-heap of `(rank, stamp)` keys, each with an id and an integer payload. */
export class CompactHeap {
  #rank = new Float64Array(INITIAL_CAPACITY);
  #stamp = new Float64Array(INITIAL_CAPACITY);
  #aux = new Int32Array(INITIAL_CAPACITY);
  /** Dense, `length === size`: pushes and pops at its end are native. */
  #ids: string[] = [];

  /** Number of elements. */
  get size(): number {
    return this.#ids.length;
  }

  /** Adds an element in O(log n). `aux` must fit in 32 bits, signed. */
  push(id: string, rank: number, stamp: number, aux: number): void {
    const index = this.#ids.length;
    if (index === this.#rank.length) this.#resize(index * 2);
    this.#ids.push(id);
    this.#rank[index] = rank;
    this.#stamp[index] = stamp;
    this.#aux[index] = aux;
    this.#siftUp(index);
  }

  /** Id of the smallest element; undefined when empty. */
  peekId(): string | undefined {
    return this.#ids[0];
  }

  /** Rank of the smallest element (meaningless when empty). */
  peekRank(): number {
    return this.#rank[0] ?? Number.NaN;
  }

  /** Stamp of the smallest element (meaningless when empty). */
  peekStamp(): number {
    return this.#stamp[0] ?? Number.NaN;
  }

  /** Payload of the smallest element (meaningless when empty). */
  peekAux(): number {
    return this.#aux[0] ?? 0;
  }

  /** Removes the smallest element in O(log n); nothing when empty. */
  pop(): void {
    const last = this.#ids.length - 1;
    if (last < 0) return;
    if (last > 0) this.#move(last, 0);
    this.#ids.pop();
    if (last > 1) this.#siftDown(0);
    if (this.#rank.length > INITIAL_CAPACITY && last < this.#rank.length / 4) this.#resize(this.#rank.length / 2);
  }

  /**
   * Keeps the elements that `keep` accepts and restores the heap in O(n) (Floyd's method), with
   * storage shrunk to fit: the way the owner drops elements it deleted lazily.
   */
  retain(keep: (id: string, stamp: number) => boolean): void {
    let kept = 0;
    const size = this.#ids.length;
    for (let index = 0; index < size; index++) {
      const id = this.#ids[index];
      if (id === undefined || !keep(id, this.#stamp[index] ?? Number.NaN)) continue;
      if (kept !== index) this.#move(index, kept);
      kept += 1;
    }
    this.#ids.length = kept;
    this.#resize(Math.max(INITIAL_CAPACITY, 2 ** Math.ceil(Math.log2(kept + 1))));
    for (let index = (kept >> 1) - 1; index >= 0; index--) this.#siftDown(index);
  }

  /** Removes every element. */
  clear(): void {
    this.#ids = [];
    this.#resize(INITIAL_CAPACITY);
  }

  #less(a: number, b: number): boolean {
    const rankA = this.#rank[a] ?? 0;
    const rankB = this.#rank[b] ?? 0;
    return rankA < rankB || (rankA === rankB && (this.#stamp[a] ?? 0) < (this.#stamp[b] ?? 0));
  }

  /** Copies the element at `from` over the one at `to`. */
  #move(from: number, to: number): void {
    this.#ids[to] = this.#ids[from] ?? "";
    this.#rank[to] = this.#rank[from] ?? 0;
    this.#stamp[to] = this.#stamp[from] ?? 0;
    this.#aux[to] = this.#aux[from] ?? 0;
  }

  #swap(a: number, b: number): void {
    const id = this.#ids[a] ?? "";
    const rank = this.#rank[a] ?? 0;
    const stamp = this.#stamp[a] ?? 0;
    const aux = this.#aux[a] ?? 0;
    this.#move(b, a);
    this.#ids[b] = id;
    this.#rank[b] = rank;
    this.#stamp[b] = stamp;
    this.#aux[b] = aux;
  }

  #siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#less(index, parent)) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #siftDown(start: number): void {
    const size = this.#ids.length;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && this.#less(right, left) ? right : left;
      if (!this.#less(child, index)) return;
      this.#swap(index, child);
      index = child;
    }
  }

  #resize(capacity: number): void {
    if (capacity === this.#rank.length) return;
    const size = this.#ids.length;
    const rank = new Float64Array(capacity);
    const stamp = new Float64Array(capacity);
    const aux = new Int32Array(capacity);
    rank.set(this.#rank.subarray(0, size));
    stamp.set(this.#stamp.subarray(0, size));
    aux.set(this.#aux.subarray(0, size));
    this.#rank = rank;
    this.#stamp = stamp;
    this.#aux = aux;
  }
}
