/**
 * `TaskService.GetTaskLogs` and `TaskService.StreamTaskLogs`: a task's stored log lines a page
 * at a time, and followed live (issue 17: stored logs). The README's "Logs of a task" shows
 * them from the CLI (`taskwire logs <id> [--follow]`).
 *
 * A stream subscribes to the task's live lines (`TaskLogEvents`) and to its state events first,
 * then sends what is stored after `after_sequence` (in pages), then the live lines with a later
 * sequence. When the task reaches a terminal state it reads the store once more (a worker's
 * lines are stored before its attempt's outcome is recorded, so that read has them all), sends
 * what it had not, and ends with `final_state`.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  GetTaskLogsResponseSchema,
  StreamTaskLogsResponseSchema,
  type StreamTaskLogsResponse,
  type TaskLogLine,
  type TaskService,
} from "../../../gen/taskwire/v1/task_service_pb.js";
import type { Unsubscribe } from "../../broker/broker.js";
import { AsyncQueue } from "../../core/async-queue.js";
import { InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import { isTaskLogLevel, levelsFrom, TASK_LOG_LEVELS, type TaskLogLevelName, type TaskLogQuery } from "../../core/task-logs.js";
import { TERMINAL_STATES } from "../../core/task-states.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { TaskStore } from "../../store/store.js";
import { callerOf, type Caller } from "../auth/index.js";
import { stateToProto } from "../convert.js";
import { isTerminalEvent, type TaskEvents } from "../engine/task-events.js";
import { logLineToProto, type TaskLogEvents } from "../engine/task-log-events.js";

/** Largest GetTaskLogs page. */
const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
/** Lines a stream reads from the store at a time while it catches up. */
const CATCH_UP_PAGE = 500;

/** What the log calls need from the task service. */
export interface TaskLogsDeps {
  store: TaskStore;
  events: TaskEvents;
  logEvents: TaskLogEvents;
  /** The task if `caller` may see it (checks the id); else NOT_FOUND. */
  getTask(id: string, caller: Caller | undefined): Promise<TaskRecord>;
  /** Takes a follower place on the task (RESOURCE_EXHAUSTED when none is left); returns its release. */
  follow(id: string, caller: Caller | undefined): () => void;
}

/** The filter of a log request, checked. */
interface LogFilter {
  attempt?: number;
  levels?: readonly TaskLogLevelName[];
}

function filterOf(request: { attempt: number; minLevel: string }): LogFilter {
  if (request.attempt < 0) throw InvalidArgumentError.field("attempt", `${request.attempt} is negative; attempts are numbered from 1 (0: every attempt)`);
  if (request.minLevel !== "" && !isTaskLogLevel(request.minLevel)) {
    throw InvalidArgumentError.field("min_level", `"${request.minLevel.slice(0, 32)}" is not one of ${TASK_LOG_LEVELS.join(", ")}`);
  }
  return {
    ...(request.attempt > 0 && { attempt: request.attempt }),
    ...(request.minLevel !== "" && request.minLevel !== "debug" && { levels: levelsFrom(request.minLevel as TaskLogLevelName) }),
  };
}

function matches(line: TaskLogLine, filter: LogFilter): boolean {
  if (filter.attempt !== undefined && line.attempt !== filter.attempt) return false;
  return filter.levels === undefined || (filter.levels as readonly string[]).includes(line.level);
}

/** A page token: the sequence of the page's last line, opaque to callers. */
function encodeToken(sequence: bigint): string {
  return Buffer.from(`logs:${sequence}`).toString("base64url");
}

function decodeToken(token: string): bigint {
  const text = Buffer.from(token, "base64url").toString();
  const match = /^logs:(\d{1,19})$/.exec(text);
  if (match?.[1] === undefined) throw InvalidArgumentError.field("page_token", "is not a token returned by GetTaskLogs");
  return BigInt(match[1]);
}

/** Builds the two log calls of the task service. */
export function taskLogCalls(deps: TaskLogsDeps): Pick<ServiceImpl<typeof TaskService>, "getTaskLogs" | "streamTaskLogs"> {
  const { store } = deps;

  async function read(query: TaskLogQuery) {
    const page = await store.readLogs(query);
    if (page === undefined) throw new NotFoundError("TASK_NOT_FOUND", `task ${query.taskId} does not exist`);
    return page;
  }

  return {
    async getTaskLogs(request, context: HandlerContext) {
      const filter = filterOf(request);
      if (request.pageSize < 0 || request.pageSize > MAX_PAGE) throw InvalidArgumentError.field("page_size", `must be from 0 to ${MAX_PAGE}`);
      const limit = request.pageSize || DEFAULT_PAGE;
      const afterSequence = request.pageToken === "" ? 0n : decodeToken(request.pageToken);
      const task = await deps.getTask(request.id, callerOf(context));
      const page = await read({ taskId: task.id, afterSequence, limit, ...filter });
      const last = page.lines.at(-1);
      return create(GetTaskLogsResponseSchema, {
        lines: page.lines.map(logLineToProto),
        nextPageToken: page.lines.length === limit && last ? encodeToken(last.sequence) : "",
        storedCount: BigInt(page.storedCount),
        droppedCount: BigInt(page.droppedCount),
      });
    },

    async *streamTaskLogs(request, context: HandlerContext) {
      const filter = filterOf(request);
      if (request.afterSequence < 0n) throw InvalidArgumentError.field("after_sequence", "must not be negative");
      const caller = callerOf(context);
      const task = await deps.getTask(request.id, caller);
      const unfollow = deps.follow(task.id, caller);
      type Item = { kind: "lines"; batch: StreamTaskLogsResponse } | { kind: "ended" };
      const queue = new AsyncQueue<Item>();
      const onAbort = () => queue.end();
      const unsubscribes: Unsubscribe[] = [];
      let cursor = request.afterSequence;
      let dropped = 0n;
      /** The stored lines after the cursor, every page of them. */
      async function* catchUp(): AsyncGenerator<StreamTaskLogsResponse> {
        for (;;) {
          const page = await read({ taskId: task.id, afterSequence: cursor, limit: CATCH_UP_PAGE, ...filter });
          dropped = BigInt(page.droppedCount);
          const last = page.lines.at(-1);
          if (last !== undefined) {
            cursor = last.sequence;
            yield create(StreamTaskLogsResponseSchema, { lines: page.lines.map(logLineToProto), droppedCount: dropped });
          }
          if (page.lines.length < CATCH_UP_PAGE) return;
        }
      }
      try {
        // Subscribe before reading, so no line stored between the read and the subscription is lost.
        unsubscribes.push(await deps.logEvents.subscribe(task.id, (batch) => queue.push({ kind: "lines", batch })));
        unsubscribes.push(
          await deps.events.subscribe(task.id, (event) => {
            if (isTerminalEvent(event)) queue.push({ kind: "ended" });
          }),
        );
        context.signal.addEventListener("abort", onAbort, { once: true });
        if (context.signal.aborted) return;
        yield* catchUp();
        const now = await store.getTask(task.id);
        if (now === undefined || TERMINAL_STATES.has(now.state)) {
          yield* catchUp();
          yield create(StreamTaskLogsResponseSchema, { finalState: now ? stateToProto(now.state) : undefined, droppedCount: dropped });
          return;
        }
        for await (const item of queue) {
          if (item.kind === "ended") {
            yield* catchUp();
            const ended = await store.getTask(task.id);
            yield create(StreamTaskLogsResponseSchema, { finalState: ended ? stateToProto(ended.state) : undefined, droppedCount: dropped });
            return;
          }
          dropped += item.batch.droppedCount;
          const lines = item.batch.lines.filter((line) => line.sequence > cursor && matches(line, filter));
          const last = lines.at(-1);
          if (last === undefined) {
            if (item.batch.droppedCount > 0n) yield create(StreamTaskLogsResponseSchema, { droppedCount: dropped });
            continue;
          }
          cursor = last.sequence;
          yield create(StreamTaskLogsResponseSchema, { lines, droppedCount: dropped });
        }
      } finally {
        context.signal.removeEventListener("abort", onAbort);
        queue.end();
        unfollow();
        await Promise.all(unsubscribes.map((unsubscribe) => unsubscribe()));
      }
    },
  };
}
