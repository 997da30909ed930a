/**
 * Following a task from the CLI (`src/cli/follow.ts`, `waiting-notice.ts`) against scripted
 * calls: a dropped progress stream is reopened and said so, one that stays down ends in one
 * line saying how to attach again, a refusal of the server is not retried; the waiting notice
 * says when no connected worker serves the type, and when a scheduled task runs.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { TaskSchema, TaskState, TaskTypeSchema, type Task, type TaskType } from "../../gen/taskwire/v1/task_pb.js";
import { StreamProgressResponseSchema, type StreamProgressResponse } from "../../gen/taskwire/v1/task_service_pb.js";
import { createTaskwireRegistry } from "../../src/client/index.js";
import { ExitCode, type CliContext } from "../../src/cli/context.js";
import { followProgress, ProgressStreamLostError, type FollowCalls } from "../../src/cli/follow.js";
import { reportError } from "../../src/cli/run.js";
import { describeWaiting, NOTICE_AFTER_MS, WaitingNotice } from "../../src/cli/waiting-notice.js";

const ID = "01a20353-a6f5-772f-85bf-3898c107de68";

function context(): CliContext & { err(): string } {
  let stderr = "";
  return {
    stdout: { write: () => true },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
    registry: createTaskwireRegistry(),
    exitCode: 0,
    globals: () => ({ url: "http://127.0.0.1:1", protocol: "grpc", header: {}, tlsCa: undefined }),
    client: () => {
      throw new Error("no client in this test");
    },
    err: () => stderr,
  };
}

function event(state: TaskState, percent = 0): StreamProgressResponse {
  return create(StreamProgressResponseSchema, { taskId: ID, state, attempt: 1, progress: { percent, message: `at ${percent}` } });
}

function task(state: TaskState, fields: { scheduleTime?: Task["scheduleTime"]; parentIds?: string[] } = {}): Task {
  return create(TaskSchema, { id: ID, type: "reports.generate", queue: "reports", state, ...fields });
}

/** Calls whose progress streams are scripted: each entry is one stream, events then an optional error; the last one repeats. */
function scripted(streams: { events: StreamProgressResponse[]; error?: unknown }[], types: TaskType[] = []): FollowCalls & { opened: number } {
  const calls = {
    id: ID,
    opened: 0,
    status: () => Promise.resolve(task(TaskState.RUNNING)),
    wait: () => Promise.resolve(task(TaskState.SUCCEEDED)),
    listTypes: () => Promise.resolve(types),
    progress(): AsyncIterable<StreamProgressResponse> {
      const stream = streams[Math.min(calls.opened, streams.length - 1)] ?? { events: [] };
      calls.opened++;
      return (async function* () {
        await Promise.resolve();
        yield* stream.events;
        if (stream.error !== undefined) throw stream.error;
      })();
    },
  };
  return calls;
}

const dropped = (): ConnectError => new ConnectError("read ECONNRESET", Code.Unavailable);

describe("following a task", () => {
  it("reopens a dropped stream, says so, and goes on to the end", async () => {
    const ctx = context();
    const calls = scripted([
      { events: [event(TaskState.RUNNING, 10)], error: dropped() },
      { events: [], error: dropped() },
      { events: [event(TaskState.RUNNING, 50), event(TaskState.SUCCEEDED, 100)] },
    ]);
    await followProgress(ctx, calls, { reconnectForMs: 60_000 });
    expect(calls.opened).toBe(3);
    const lines = ctx.err().split("\n");
    expect(lines).toContain(`lost the progress stream of task ${ID} (UNAVAILABLE: read ECONNRESET); reconnecting`);
    expect(lines).toContain(`reconnected: following task ${ID} again`);
    expect(lines.filter((line) => line.startsWith("lost the progress stream"))).toHaveLength(1);
    expect(lines.at(-2)).toBe("[SUCCEEDED] 100% at 100");
  });

  it("reopens a stream the server ended before the task did (a server shutting down)", async () => {
    const ctx = context();
    const calls = scripted([{ events: [event(TaskState.RUNNING, 10)] }, { events: [event(TaskState.SUCCEEDED, 100)] }]);
    await followProgress(ctx, calls);
    expect(ctx.err()).toContain("(the server closed the stream); reconnecting");
    expect(calls.opened).toBe(2);
  });

  it("says clearly that the stream dropped, and how to attach again, when it stays down", async () => {
    const ctx = context();
    const calls = scripted([
      { events: [event(TaskState.RUNNING, 10)], error: dropped() },
      { events: [], error: dropped() },
    ]);
    const error = await followProgress(ctx, calls, { reconnectForMs: 300 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProgressStreamLostError);
    expect(calls.opened).toBeGreaterThan(1);
    // The CLI prints it as one line, exit status 1.
    const printed = context();
    expect(reportError(error, printed, () => "http://127.0.0.1:1")).toBe(ExitCode.error);
    expect(printed.err()).toBe(
      `error: the progress stream of task ${ID} dropped and did not come back within 300ms (UNAVAILABLE: read ECONNRESET); the task goes on: \`taskwire follow ${ID}\` attaches again\n`,
    );
  });

  it("does not retry what the server refused", async () => {
    const ctx = context();
    const refusal = new ConnectError("task not found", Code.NotFound);
    const calls = scripted([{ events: [], error: refusal }]);
    await expect(followProgress(ctx, calls)).rejects.toBe(refusal);
    expect(calls.opened).toBe(1);
    const unavailable = new ConnectError("PostgreSQL is unavailable", Code.Unavailable, { "taskwire-reason": "STORE_UNAVAILABLE" });
    await expect(followProgress(ctx, scripted([{ events: [], error: unavailable }]))).rejects.toBe(unavailable);
  });
});

describe("the waiting notice", () => {
  const catalog = (workerCount: number): TaskType[] => [create(TaskTypeSchema, { name: "reports.generate", workerCount })];

  it("says no connected worker serves the type of a queued task", () => {
    expect(describeWaiting(task(TaskState.QUEUED), catalog(0), 0)?.line).toBe(
      `task ${ID} is QUEUED in queue reports: no connected worker serves reports.generate; it starts once one connects (taskwire types lists what workers serve)`,
    );
    expect(describeWaiting(task(TaskState.QUEUED), [], 0)?.line).toContain("no connected worker serves reports.generate");
    expect(describeWaiting(task(TaskState.QUEUED), catalog(2), 0)?.line).toBe(
      `task ${ID} is QUEUED in queue reports: the 2 workers serving reports.generate are busy, or do not serve queue reports`,
    );
    expect(describeWaiting(task(TaskState.RUNNING), catalog(0), 0)).toBeUndefined();
    expect(describeWaiting(task(TaskState.WAITING, { parentIds: [ID, ID] }), catalog(1), 0)?.line).toBe(
      `task ${ID} is WAITING for the 2 tasks it depends on; it is queued once they succeed (taskwire tasks tree ${ID} shows them)`,
    );
  });

  it("shows when a scheduled task runs", () => {
    const runAt = Date.parse("2030-01-31T12:00:08Z");
    const scheduled = task(TaskState.SCHEDULED, { scheduleTime: timestampFromMs(runAt) });
    expect(describeWaiting(scheduled, catalog(1), runAt - 7_500)?.line).toBe(`task ${ID} is SCHEDULED: it runs at 2030-01-31T12:00:08Z (in 8s)`);
    expect(describeWaiting(scheduled, catalog(0), runAt - 7_500)?.line).toContain("(in 8s); no connected worker serves reports.generate");
  });

  it("prints once a moment has passed, and again only when what it says changes", async () => {
    const lines: string[] = [];
    let workers = 0;
    const checked: (() => void)[] = [];
    const notice = new WaitingNotice(
      {
        status: () => Promise.resolve(task(TaskState.QUEUED)),
        listTypes: () => {
          queueMicrotask(() => checked.shift()?.());
          return Promise.resolve(catalog(workers));
        },
      },
      { write: (line) => lines.push(line), afterMs: 1, recheckMs: 1 },
    );
    const nextCheck = () => new Promise<void>((resolve) => checked.push(resolve));
    let check = nextCheck();
    notice.start();
    await check;
    check = nextCheck();
    await check;
    workers = 1;
    check = nextCheck();
    await check;
    check = nextCheck();
    await check;
    notice.seen(TaskState.RUNNING);
    expect(lines).toEqual([
      `task ${ID} is QUEUED in queue reports: no connected worker serves reports.generate; it starts once one connects (taskwire types lists what workers serve)`,
      `task ${ID} is QUEUED in queue reports: the worker serving reports.generate is busy, or does not serve queue reports`,
    ]);
  });
  it("an option given as undefined keeps its default: the first check comes NOTICE_AFTER_MS after the start, not at once", () => {
    vi.useFakeTimers();
    try {
      let checks = 0;
      const notice = new WaitingNotice(
        {
          status: () => {
            checks += 1;
            return Promise.resolve(task(TaskState.RUNNING));
          },
          listTypes: () => Promise.resolve(catalog(1)),
        },
        { write: () => undefined, afterMs: undefined, recheckMs: undefined },
      );
      notice.start();
      vi.advanceTimersByTime(NOTICE_AFTER_MS - 1);
      expect(checks).toBe(0);
      vi.advanceTimersByTime(1);
      expect(checks).toBe(1);
      notice.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
