/**
 * An unbounded async queue: the request side of the worker's stream. Messages pushed before
 * the transport reads them wait in order; `close()` half-closes the stream once they are sent.
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #queue: T[] = [];
  #closed = false;
  #reader: ((result: IteratorResult<T, undefined>) => void) | undefined;

  /** False once closed (further messages are dropped). */
  get open(): boolean {
    return !this.#closed;
  }

  /** Queues a message; returns false when the channel is closed. */
  push(value: T): boolean {
    if (this.#closed) return false;
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      reader({ done: false, value });
    } else {
      this.#queue.push(value);
    }
    return true;
  }

  /** Ends the iteration after the queued messages. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.({ done: true, value: undefined });
  }

  #discard(): Promise<IteratorResult<T, undefined>> {
    this.close();
    this.#queue.length = 0;
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: () => {
        const value = this.#queue.shift();
        if (value !== undefined) return Promise.resolve({ done: false, value });
        if (this.#closed) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => {
          this.#reader = resolve;
        });
      },
      return: () => this.#discard(),
      // Connect aborts a request stream through throw(); the stream is over either way.
      throw: () => this.#discard(),
    };
  }
}
