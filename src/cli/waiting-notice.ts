/**
 * What `submit --wait` / `--follow` and `follow` say while a task waits to start, so that a
 * task no connected worker serves does not wait in silence: a moment after the wait begins, and
 * again whenever what there is to say changes, one line on stderr, like
 *
 *   task 0193… is QUEUED in queue default: no connected worker serves reports.generate; it starts once one connects (taskwire types lists what workers serve)
 *   task 0193… is SCHEDULED: it runs at 2026-12-03T12:00:05Z (in 8s)
 *   task 0193… is WAITING for the 2 tasks it depends on; it is queued once they succeed (taskwire tasks tree 0193… shows them)
 *
 * It asks the server (`GetStatus`, and `ListTypes` for the workers of the type) only while the
 * task waits, every {@link RECHECK_MS}, and never fails the command: a check that fails is
 * skipped (the wait or the stream reports a lost server).
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { TaskState, type Task } from "../../gen/taskwire/v1/task_pb.js";
import type { TaskType } from "../../gen/taskwire/v1/task_pb.js";
import { formatDuration } from "../core/durations.js";
import { formatTime } from "./format.js";

/** How long after the wait begins the first check is made: a worker that is there takes the task sooner. */
export const NOTICE_AFTER_MS = 2_000;
/** How often the task is looked at again while it waits. */
const RECHECK_MS = 10_000;

/** What the notice asks the server. */
export interface NoticeCalls {
  status(): Promise<Task>;
  listTypes(): Promise<TaskType[]>;
}

/** Options of {@link WaitingNotice}. */
export interface WaitingNoticeOptions {
  /** Writes one notice line (without its newline). */
  write(line: string): void;
  /** @default {@link NOTICE_AFTER_MS} */
  afterMs?: number;
  /** @default 10 s */
  recheckMs?: number;
  /** The clock, for the "in 8s" of a scheduled task. @default Date.now */
  now?: () => number;
}

/** Whether a task in `state` is waiting to start. */
function isWaiting(state: TaskState): boolean {
  return state === TaskState.QUEUED || state === TaskState.SCHEDULED || state === TaskState.WAITING;
}

/**
 * The notice for `task` given the catalog, and the part of it that decides whether it is worth
 * printing again (the countdown of a scheduled task is not); undefined when the task does not wait.
 */
export function describeWaiting(task: Task, types: readonly TaskType[], nowMs: number): { line: string; key: string } | undefined {
  if (!isWaiting(task.state)) return undefined;
  if (task.state === TaskState.WAITING) {
    const parents = task.parentIds.length === 1 ? "the task it depends on" : `the ${task.parentIds.length} tasks it depends on`;
    return { line: `task ${task.id} is WAITING for ${parents}; it is queued once they succeed (taskwire tasks tree ${task.id} shows them)`, key: "waiting" };
  }
  const workers = types.find((type) => type.name === task.type)?.workerCount ?? 0;
  const noWorker = `no connected worker serves ${task.type}; it starts once one connects (taskwire types lists what workers serve)`;
  if (task.state === TaskState.SCHEDULED) {
    const runAt = task.scheduleTime ? timestampDate(task.scheduleTime).getTime() : undefined;
    const when = runAt === undefined ? "later" : `at ${formatTime(task.scheduleTime)} (in ${formatDuration(Math.max(0, Math.ceil((runAt - nowMs) / 1000) * 1000))})`;
    const line = `task ${task.id} is SCHEDULED: it runs ${when}${workers === 0 ? `; ${noWorker}` : ""}`;
    return { line, key: `scheduled:${runAt}:${workers === 0}` };
  }
  const line =
    workers === 0
      ? `task ${task.id} is QUEUED in queue ${task.queue}: ${noWorker}`
      : `task ${task.id} is QUEUED in queue ${task.queue}: ${workers === 1 ? "the worker" : `the ${workers} workers`} serving ${task.type} ${workers === 1 ? "is" : "are"} busy, or ${workers === 1 ? "does" : "do"} not serve queue ${task.queue}`;
  return { line, key: `queued:${workers === 0}` };
}

/** Prints {@link describeWaiting} while a task waits; see the file header. */
export class WaitingNotice {
  readonly #calls: NoticeCalls;
  readonly #options: Required<WaitingNoticeOptions>;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #lastKey: string | undefined;

  constructor(calls: NoticeCalls, options: WaitingNoticeOptions) {
    this.#calls = calls;
    // Each default on its own: an option passed as undefined means the default, not 0 ms.
    this.#options = {
      write: options.write,
      afterMs: options.afterMs ?? NOTICE_AFTER_MS,
      recheckMs: options.recheckMs ?? RECHECK_MS,
      now: options.now ?? Date.now,
    };
  }

  /** Starts watching: the first check comes `afterMs` from now. */
  start(): this {
    this.#arm(this.#options.afterMs);
    return this;
  }

  /** The task left the waiting states (a progress event said so): no more checks. */
  seen(state: TaskState): void {
    if (!isWaiting(state)) this.stop();
  }

  /** Stops for good. Safe to call twice. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #arm(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#check(), ms);
    // A notice must never keep a finished command alive.
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    try {
      const task = await this.#calls.status();
      if (this.#stopped) return;
      if (!isWaiting(task.state)) return this.stop();
      const notice = describeWaiting(task, await this.#calls.listTypes(), this.#options.now());
      if (this.#stopped || !notice) return;
      if (notice.key !== this.#lastKey) this.#options.write(notice.line);
      this.#lastKey = notice.key;
    } catch {
      // The server is away: the wait or the stream reports it.
    }
    this.#arm(this.#options.recheckMs);
  }
}
