/**
 * Writes the log lines workers send into the store, in batches (group commit: the lines that
 * arrive while a batch is written go together in the next one, `core/batcher.ts`), within each
 * task's bounds, and publishes what was stored to live followers (`task-log-events.ts`).
 * Batches are written one at a time, so the lines of a task are stored in the order they came.
 */
import { Batcher } from "../../core/batcher.js";
import type { Logger } from "../../core/logger.js";
import type { NewTaskLogLine, TaskLogBounds } from "../../core/task-logs.js";
import type { TaskStore } from "../../store/store.js";
import type { TaskLogEvents } from "./task-log-events.js";

/** Most lines written in one batch (7 parameters each in one insert). */
const MAX_BATCH = 1000;

/** The server's writer of task log lines. */
export class TaskLogWriter {
  readonly #batcher: Batcher<NewTaskLogLine, undefined>;
  /** The last write of each task's lines, awaited before the task's outcome is recorded. */
  readonly #lastWrite = new Map<string, Promise<void>>();

  constructor(
    store: TaskStore,
    events: TaskLogEvents,
    bounds: TaskLogBounds,
    private readonly logger: Logger,
  ) {
    this.#batcher = new Batcher(
      async (lines: NewTaskLogLine[]) => {
        const appended = await store.appendLogs(lines, bounds);
        events.publish(appended.stored, appended.dropped);
        return lines.map(() => undefined);
      },
      { maxBatch: MAX_BATCH },
    );
  }

  /** Queues a line; a failed write is logged (the line is lost, the attempt goes on). */
  add(line: NewTaskLogLine): void {
    const id = line.taskId.toLowerCase();
    const written = this.#batcher.add(line).catch((error: unknown) => {
      this.logger.warn({ err: error, taskId: line.taskId, attempt: line.attempt }, "could not store a task log line");
    });
    this.#lastWrite.set(id, written);
    void written.finally(() => {
      if (this.#lastWrite.get(id) === written) this.#lastWrite.delete(id);
    });
  }

  /** Resolves once the lines of `taskId` queued so far are written (or failed). */
  flushed(taskId: string): Promise<void> {
    return this.#lastWrite.get(taskId.toLowerCase()) ?? Promise.resolve();
  }
}
