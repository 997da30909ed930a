/**
 * The idle clock of `idleExitMs` (`taskwire worker start --idle-exit`): it runs while the worker
 * holds no attempt, restarts from zero each time the worker becomes idle again, and fires once
 * when it reaches its limit; the worker then drains and stops, for deployments that scale
 * workers to zero when the queues are empty.
 */
export class IdleClock {
  #timer: NodeJS.Timeout | undefined;
  #fired = false;

  constructor(
    private readonly limitMs: number,
    /** Whether the worker holds no attempt now. */
    private readonly isIdle: () => boolean,
    /** Called once, when the worker has been idle for `limitMs`. */
    private readonly onIdle: () => void,
  ) {}

  /** Starts counting when the worker is idle and not counting yet. */
  armWhenIdle(): void {
    if (this.#fired || this.#timer !== undefined || !this.isIdle()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.isIdle()) return;
      this.#fired = true;
      this.onIdle();
    }, this.limitMs);
  }

  /** The worker took an attempt: stop counting. */
  disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops for good (the worker stops). */
  close(): void {
    this.disarm();
    this.#fired = true;
  }
}
