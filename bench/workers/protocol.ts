/**
 * Messages between the bench and its worker processes (Node IPC). A worker process hosts one
 * worker at a time — Taskwire's `Worker` or BullMQ's `Worker` — and stays up between runs, so
 * that process start-up (loading TypeScript through tsx, about a second) is paid once per
 * scenario instead of once per measurement. Starting a worker inside it is what
 * `taskwire worker start` does.
 */

/** What the worker connects to. */
export interface WorkerTarget {
  /** Taskwire: the server's URL. BullMQ: the Redis URL. The durable peers: the PostgreSQL URL. */
  url: string;
  /** BullMQ: the key prefix. The durable peers: `<peer>:<schema>` (see `peers-worker.ts`). */
  prefix?: string;
}

export type HostRequest =
  | {
      op: "start";
      target: WorkerTarget;
      /** The only queue served. */
      queue: string;
      concurrency: number;
      /** Taskwire only: the worker's `prefetch` (BullMQ has no such setting). @default 0 */
      prefetch?: number;
      /** BullMQ only: the processor (Taskwire picks the handler by the submitted type). */
      task: "noop" | "stamp";
    }
  /** Answers true once the worker finished `count` tasks since it started, false after `timeoutMs`. */
  | { op: "finished"; count: number; timeoutMs: number }
  /**
   * The durable peers' worker only: the finish times (the bench's clock) of this run's handler
   * calls ranked `first` and `last`, for a system that keeps no record of its completions.
   */
  | { op: "finishTimes"; first: number; last: number }
  /** Stops the worker gracefully: no new tasks, running ones finish, results are acknowledged. */
  | { op: "stop" };

export type HostMessage = { id: number; request: HostRequest };

export type HostReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/**
 * Serves the requests of the parent process with `handle`; exits when the IPC channel closes
 * (the parent ended it, or died). Used by the two worker entry points.
 */
export function serveHost(handle: (request: HostRequest) => Promise<unknown>): void {
  process.on("message", (message: HostMessage) => {
    handle(message.request).then(
      (value) => process.send?.({ id: message.id, ok: true, value: value ?? null } satisfies HostReply),
      (error: unknown) =>
        process.send?.({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies HostReply),
    );
  });
  process.on("disconnect", () => process.exit(0));
  // Ctrl-C reaches the whole process group: the bench decides when its workers stop.
  process.on("SIGINT", () => {});
}
