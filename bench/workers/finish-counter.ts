/**
 * Counts the tasks a worker process has finished, so that the bench learns when a run is over
 * without asking the system under test: polling Taskwire's `ListTasks` totals or BullMQ's
 * completed set while tasks are processed would put the detector's own load on the server,
 * PostgreSQL or Redis. The count is only a trigger; the figures come from the finish times
 * each system recorded (see `QueueSystem.finishTimes`).
 */
export class FinishCounter {
  #count = 0;
  #waiters: { target: number; resolve: () => void }[] = [];

  /** Tasks finished since the last {@link reset}. */
  get count(): number {
    return this.#count;
  }

  /** Called by the task handler as it returns. */
  add(): void {
    this.#count += 1;
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => w.target <= this.#count);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.target > this.#count);
    for (const waiter of ready) waiter.resolve();
  }

  /** Starts a new run: back to zero, pending waits released. */
  reset(): void {
    this.#count = 0;
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
  }

  /** Resolves true once `target` tasks have finished, false after `timeoutMs`. */
  reached(target: number, timeoutMs: number): Promise<boolean> {
    if (this.#count >= target) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.#count >= target);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
}

/** The counter of this process, shared by the task handlers and the worker host. */
export const finished = new FinishCounter();
