/**
 * Group commit: callers add items one request at a time; items added in the same turn of the
 * event loop, and items that arrive while the flushes are in flight, are written together by
 * the next one, in one statement. There is no fixed delay (a flush starts on the microtask
 * after the first add), so a lone request is written at once and a busy server writes large
 * batches.
 */

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
}

/** Options of a {@link Batcher}. */
export interface BatcherOptions {
  /** Largest batch handed to the flush function. @default 1000 */
  maxBatch?: number;
  /** Flushes that may run at the same time. @default 1 */
  concurrency?: number;
}

/** Batches items into calls of `flush`, which must return one result per item, in order. */
export class Batcher<In, Out> {
  private readonly queue: Pending<In, Out>[] = [];
  private running = 0;
  /** A pump is scheduled for the end of the current turn. */
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly concurrency: number;

  constructor(
    private readonly flush: (items: In[]) => Promise<Out[]>,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1000;
    this.concurrency = options.concurrency ?? 1;
  }

  /** Adds one item; resolves with its result once its batch is written. */
  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedulePump();
    });
  }

  /** Adds many items that are written together when they fit one batch. */
  addAll(items: readonly In[]): Promise<Out[]> {
    return Promise.all(items.map((item) => this.add(item)));
  }

  /** Items waiting and being written. */
  get size(): number {
    return this.queue.length;
  }

  /**
   * Pumps once the caller's synchronous work is done: the items it adds in a loop (a worker's
   * report of many results) make one batch rather than a batch of one per free flush slot.
   */
  private schedulePump(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running++;
      void this.run(batch);
    }
  }

  private async run(batch: Pending<In, Out>[]): Promise<void> {
    try {
      const results = await this.flush(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(`batch flush returned ${results.length} results for ${batch.length} items`);
      }
      batch.forEach((p, i) => p.resolve(results[i] as Out));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.running--;
      this.pump();
    }
  }
}
