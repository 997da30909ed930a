/**
 * One timer for the deadlines of every running attempt. Instead of a `setTimeout` per task, it
 * keeps the deadlines in a map and arms a single timer for the earliest one; when it fires, it
 * expires everything due and re-arms for the next. With at most `concurrency` entries, a scan
 * per change is cheaper than any heap.
 */

interface Entry {
  at: number;
  expire: () => void;
}

/** Calls a function per key when its deadline passes. */
export class DeadlineTimer {
  readonly #entries = new Map<string, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Infinity;

  /** Number of deadlines waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Calls `expire` at `at` unless {@link delete} is called for `key` first; replaces an earlier entry. */
  set(key: string, at: Date, expire: () => void): void {
    this.#entries.set(key, { at: at.getTime(), expire });
    this.#arm();
  }

  /** Forgets the deadline of `key`. */
  delete(key: string): void {
    if (this.#entries.delete(key) && this.#entries.size === 0) this.#disarm();
  }

  /** Forgets every deadline and stops the timer. */
  clear(): void {
    this.#entries.clear();
    this.#disarm();
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #arm(): void {
    let earliest = Infinity;
    for (const entry of this.#entries.values()) earliest = Math.min(earliest, entry.at);
    if (earliest === this.#armedAt) return;
    this.#disarm();
    if (earliest === Infinity) return;
    this.#armedAt = earliest;
    // setTimeout caps at 2^31-1 ms; a later deadline just re-arms when this fires.
    const delay = Math.min(Math.max(0, earliest - Date.now()), 2 ** 31 - 1);
    this.#timer = setTimeout(() => this.#fire(), delay);
    // The running tasks and the stream keep the process alive, not their deadlines.
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = Date.now();
    const due: Entry[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.at <= now) {
        this.#entries.delete(key);
        due.push(entry);
      }
    }
    this.#arm();
    for (const entry of due) entry.expire();
  }
}
