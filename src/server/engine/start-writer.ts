/**
 * Writes the starts of attempts to PostgreSQL after their tasks reached the worker, so that a
 * task costs one PostgreSQL write on its path (its outcome) instead of two. A start waits
 * {@link StartWriterOptions.delayMs}: a task that ends before that has its start written by its
 * outcome (`AttemptOutcome.start`, which the `AttemptRecorder` takes from here), and this writer
 * never writes it. Longer tasks get their start written in batches (one statement each). A
 * progress report of an attempt whose start is not written yet has it written at once
 * ({@link StartWriter.written}), so the progress has a RUNNING row to land on.
 *
 * Until its start is written a running task reads as QUEUED in PostgreSQL (GetStatus, listings)
 * for at most `delayMs`; the state events of the start are published at once. A task cancelled
 * in that window is cancelled as a queued one; its start is then refused, and its worker told to
 * stop (`onRefused`). While PostgreSQL is unavailable, starts are kept and tried again; their
 * tasks' leases are renewed with their sessions', and their outcomes carry them.
 *
 * Why numbers never repeat although PostgreSQL learns starts late: `attempt-numbers.ts`.
 */
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { AttemptStart, AttemptStartInfo, StartWrite, TaskStore } from "../../store/store.js";

/** Options of a {@link StartWriter}. */
export interface StartWriterOptions {
  /**
   * How long a start waits for its attempt's outcome to carry it before it is written on its own.
   * @default 200
   */
  delayMs?: number;
  /** Most starts per statement. @default 1000 */
  maxBatch?: number;
}

interface Pending {
  start: AttemptStart;
  /** Epoch ms it was handed out. */
  since: number;
  /** A write of it is in flight. */
  writing: boolean;
  /** Callers waiting for it to be written (progress). */
  waiters: (() => void)[];
}

/** Starts handed out and not yet in PostgreSQL; see the file header. */
export class StartWriter {
  readonly #pending = new Map<string, Pending>();
  readonly #delayMs: number;
  readonly #maxBatch: number;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failures = 0;
  #closed = false;

  constructor(
    private readonly store: TaskStore,
    private readonly logger: Logger,
    /** A start PostgreSQL refused: the task moved on (cancelled) without this attempt. */
    private readonly onRefused: (start: AttemptStart) => void,
    options: StartWriterOptions = {},
  ) {
    this.#delayMs = Math.max(0, options.delayMs ?? 200);
    this.#maxBatch = Math.max(1, options.maxBatch ?? 1000);
  }

  /** Starts just handed to a worker: written after the delay unless their outcomes carry them. */
  begin(starts: readonly AttemptStart[]): void {
    const now = Date.now();
    for (const start of starts) this.#pending.set(start.id, { start, since: now, writing: false, waiters: [] });
    this.#arm();
  }

  /** The start of this attempt when PostgreSQL may not have it yet, for its outcome to carry. */
  unwritten(taskId: string, attempt: number): AttemptStartInfo | undefined {
    const pending = this.#pending.get(taskId);
    return pending?.start.attempt === attempt ? { workerId: pending.start.workerId, startedAt: pending.start.startedAt } : undefined;
  }

  /** The attempt's outcome was written with its start: nothing more to write. */
  settled(taskId: string, attempt: number): void {
    const pending = this.#pending.get(taskId);
    if (pending?.start.attempt !== attempt) return;
    this.#pending.delete(taskId);
    for (const wake of pending.waiters) wake();
  }

  /** Resolves once the task's pending start (if any) is written; asks for it to be written now. */
  written(taskId: string): Promise<void> {
    const pending = this.#pending.get(taskId);
    if (pending === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      pending.waiters.push(resolve);
      pending.since = 0;
      void this.#flush();
    });
  }

  /** Starts not written yet. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Writes every pending start now (shutdown, after the sessions closed); resolves when tried. */
  async flush(): Promise<void> {
    for (const pending of this.#pending.values()) pending.since = 0;
    await this.#flush();
  }

  /** Stops the timer; pending starts stay for their outcomes (or a reaper) to settle. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const pending of this.#pending.values()) for (const wake of pending.waiters.splice(0)) wake();
  }

  #arm(): void {
    if (this.#closed || this.#timer !== undefined || this.#pending.size === 0) return;
    const backoff = this.#failures === 0 ? 0 : Math.min(5_000, 100 * 2 ** Math.min(this.#failures - 1, 6));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#flush();
    }, Math.max(this.#delayMs, backoff));
    this.#timer.unref();
  }

  /** Writes the starts that waited long enough, a batch at a time, one flush at a time. */
  #flush(): Promise<void> {
    this.#flushing ??= this.#writeDue().finally(() => {
      this.#flushing = undefined;
      this.#arm();
    });
    return this.#flushing;
  }

  async #writeDue(): Promise<void> {
    for (;;) {
      const due = Date.now() - this.#delayMs;
      const batch: Pending[] = [];
      for (const pending of this.#pending.values()) {
        if (!pending.writing && pending.since <= due) {
          pending.writing = true;
          batch.push(pending);
          if (batch.length === this.#maxBatch) break;
        }
      }
      if (batch.length === 0) return;
      let results: StartWrite[];
      try {
        results = await this.store.recordStarts(batch.map((p) => p.start));
        this.#failures = 0;
      } catch (error) {
        for (const pending of batch) pending.writing = false;
        this.#failures++;
        if (!(error instanceof UnavailableError)) this.logger.error({ err: error, starts: batch.length }, "could not write attempt starts; retrying");
        else if (this.#failures === 1) this.logger.warn({ err: error, starts: batch.length }, "could not write attempt starts; they are kept and retried");
        return;
      }
      batch.forEach((pending, index) => {
        pending.writing = false;
        if (this.#pending.get(pending.start.id) !== pending) return; // settled by its outcome meanwhile
        this.#pending.delete(pending.start.id);
        for (const wake of pending.waiters) wake();
        if (results[index] === "refused") this.onRefused(pending.start);
      });
    }
  }
}
