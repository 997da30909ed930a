/**
 * Waiting for a task from the CLI (`submit --wait`, `submit --follow`, `follow <id>`): live
 * progress on stderr, a notice while the task waits for a worker (`waiting-notice.ts`), then the
 * outcome (`outcome.ts`).
 *
 * Following survives a server restart: when the progress stream drops (the server went away,
 * a load balancer cut the connection), it says so and opens it again, with back-off, for up to
 * {@link RECONNECT_FOR_MS}; the new stream starts with the task's current state, so nothing is
 * missed but intermediate progress. If the server does not come back in time, it stops with one
 * line saying the stream dropped and how to attach again.
 */
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import type { Task, TaskType } from "../../gen/taskwire/v1/task_pb.js";
import type { StreamProgressResponse } from "../../gen/taskwire/v1/task_service_pb.js";
import { isTerminalState, type TaskHandle, type TaskwireClient } from "../client/index.js";
import { formatDuration } from "../core/durations.js";
import type { CliContext } from "./context.js";
import { reportOutcome } from "./outcome.js";
import { ProgressDisplay } from "./progress-bar.js";
import { codeName } from "./code-name.js";
import { WaitingNotice } from "./waiting-notice.js";

/** How long a dropped stream is reopened before following gives up. */
export const RECONNECT_FOR_MS = 60_000;
/** First pause before reopening a dropped stream; doubles up to {@link RECONNECT_MAX_DELAY_MS}. */
const RECONNECT_FIRST_DELAY_MS = 250;
const RECONNECT_MAX_DELAY_MS = 5_000;

/** What following a task calls: a task handle's calls, and the catalog. */
export interface FollowCalls {
  readonly id: string;
  status(options?: CallOptions): Promise<Task>;
  wait(options: { signal?: AbortSignal }): Promise<Task>;
  progress(options?: CallOptions): AsyncIterable<StreamProgressResponse>;
  listTypes(options?: CallOptions): Promise<TaskType[]>;
}

/** Options of {@link followProgress} and {@link awaitOutcome}. */
export interface FollowOptions {
  /** @default {@link RECONNECT_FOR_MS} */
  reconnectForMs?: number;
  /** Delay of the waiting notice; see `waiting-notice.ts`. */
  noticeAfterMs?: number;
}

/** Following stopped because the stream dropped and the server did not come back in time. */
export class ProgressStreamLostError extends Error {
  override readonly name = "ProgressStreamLostError";
}

/**
 * Whether `error` ended a stream without the server having refused it: the connection broke or
 * the server went away. A refusal of the server (its `taskwire-reason`, its details) is not.
 */
export function isDroppedStream(error: unknown): error is ConnectError {
  if (!(error instanceof ConnectError)) return false;
  if (error.metadata.has("taskwire-reason") || error.details.length > 0) return false;
  // A server closing while it shuts down resets its streams (HTTP/2 RST_STREAM CANCEL): Canceled,
  // which is a drop here, since a cancel of our own (the signal) is looked at first.
  return [Code.Unavailable, Code.Unknown, Code.Internal, Code.Aborted, Code.Canceled].includes(error.code);
}

/** The calls of following `handle`, a task of `client`. */
export function followCallsOf(client: Pick<TaskwireClient, "listTypes">, handle: TaskHandle): FollowCalls {
  return {
    id: handle.id,
    status: (options) => handle.status(options),
    wait: (options) => handle.wait(options),
    progress: (options) => handle.progress(options),
    listTypes: (options) => client.listTypes(options),
  };
}

/**
 * Waits for the task and reports its outcome (exit status included): with `follow`, showing its
 * progress first. Either way a notice says when it waits for a worker.
 */
export async function awaitOutcome(ctx: CliContext, calls: FollowCalls, flags: { follow?: boolean; json?: boolean }, options: FollowOptions = {}): Promise<void> {
  try {
    let notice: WaitingNotice | undefined;
    if (flags.follow) await followProgress(ctx, calls, options);
    else notice = waitingNotice(ctx, calls, (line) => ctx.stderr.write(`${line}\n`), options);
    try {
      reportOutcome(ctx, await calls.wait({ signal: ctx.signal }), flags.json ?? false);
    } finally {
      notice?.stop();
    }
  } catch (error) {
    if (ctx.signal.aborted) ctx.stderr.write(`stopped waiting; task ${calls.id} goes on (taskwire cancel ${calls.id} stops it)\n`);
    throw error;
  }
}

/** A started {@link WaitingNotice} of the task of `calls`. */
function waitingNotice(ctx: CliContext, calls: FollowCalls, write: (line: string) => void, options: FollowOptions): WaitingNotice {
  const notice = new WaitingNotice(
    { status: () => calls.status({ signal: ctx.signal }), listTypes: () => calls.listTypes({ signal: ctx.signal }) },
    { write, afterMs: options.noticeAfterMs },
  );
  return notice.start();
}

/**
 * Shows the task's progress on stderr until it reaches a terminal state, reopening the stream
 * when it drops (see the file header).
 * @throws ProgressStreamLostError when the stream stayed down for `reconnectForMs`.
 */
export async function followProgress(ctx: CliContext, calls: FollowCalls, options: FollowOptions = {}): Promise<void> {
  const reconnectForMs = options.reconnectForMs ?? RECONNECT_FOR_MS;
  const display = new ProgressDisplay(ctx.stderr);
  const notice = waitingNotice(ctx, calls, (line) => display.note(line), options);
  /** When the stream dropped, while it is down. */
  let droppedAt: number | undefined;
  let delay = RECONNECT_FIRST_DELAY_MS;
  try {
    for (;;) {
      let reason: string;
      try {
        for await (const event of calls.progress({ signal: ctx.signal })) {
          if (droppedAt !== undefined) {
            display.note(`reconnected: following task ${calls.id} again`);
            droppedAt = undefined;
            delay = RECONNECT_FIRST_DELAY_MS;
          }
          notice.seen(event.state);
          display.update(event);
          if (isTerminalState(event.state)) return;
        }
        // A stream that ends before the task did: the server closed it (it is shutting down).
        reason = "the server closed the stream";
      } catch (error) {
        if (ctx.signal.aborted || !isDroppedStream(error)) throw error;
        reason = `${codeName(error.code)}: ${error.rawMessage}`;
      }
      const now = Date.now();
      if (droppedAt === undefined) {
        droppedAt = now;
        display.note(`lost the progress stream of task ${calls.id} (${reason}); reconnecting`);
      } else if (now - droppedAt >= reconnectForMs) {
        throw new ProgressStreamLostError(
          `the progress stream of task ${calls.id} dropped and did not come back within ${formatDuration(reconnectForMs)} (${reason}); the task goes on: \`taskwire follow ${calls.id}\` attaches again`,
        );
      }
      await pause(Math.min(delay, Math.max(1, droppedAt + reconnectForMs - now)), ctx.signal);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS);
    }
  } finally {
    notice.stop();
    display.finish();
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
