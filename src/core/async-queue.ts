/**
 * An unbounded queue consumed as an async iterator: producers `push`, one consumer iterates.
 * Ending it lets the consumer drain what is queued, then stop; failing it throws to the consumer.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private failWaiter: ((error: unknown) => void) | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;

  /** Queues an item; ignored once the queue ended. */
  push(item: T): void {
    if (this.ended) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      this.failWaiter = undefined;
      waiter({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  /** No more items: the consumer stops after the queued ones. Safe to call twice. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiter && this.items.length === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  /** Ends the queue with an error, thrown to the consumer after the queued items. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = { error };
    this.ended = true;
    if (this.failWaiter && this.items.length === 0) {
      const fail = this.failWaiter;
      this.waiter = undefined;
      this.failWaiter = undefined;
      fail(error);
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
        if (this.failure) return Promise.reject(this.failure.error);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.end();
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      throw: (error?: unknown) => {
        this.end();
        this.items.length = 0;
        return Promise.reject(error);
      },
    };
  }
}
