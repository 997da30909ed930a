import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ProgressSchema, TaskState } from "../../gen/taskwire/v1/task_pb.js";
import {
  newestProgress,
  ProgressDisplay,
  renderPlainLine,
  renderProgressLine,
  type ProgressEvent,
} from "../../src/cli/progress-bar.js";

const event = (state: TaskState, percent?: number, extra: { current?: bigint; total?: bigint; message?: string; at?: number } = {}): ProgressEvent => ({
  state,
  attempt: 1,
  progress:
    percent === undefined
      ? undefined
      : create(ProgressSchema, {
          percent,
          message: extra.message ?? "",
          current: extra.current,
          total: extra.total,
          updateTime: extra.at === undefined ? undefined : timestampFromMs(extra.at),
        }),
});

function recorder(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

describe("renderProgressLine", () => {
  it("draws state, bar, percent, counts and message", () => {
    const line = renderProgressLine(event(TaskState.RUNNING, 50, { current: 5n, total: 10n, message: "chunk 5" }), {
      barWidth: 10,
    });
    expect(line).toBe("RUNNING     [█████░░░░░]   50%  5/10  chunk 5");
  });

  it("shows an empty bar before progress and a full one on success", () => {
    expect(renderProgressLine(event(TaskState.QUEUED), { barWidth: 4 })).toBe("QUEUED      [░░░░]    0%");
    expect(renderProgressLine(event(TaskState.SUCCEEDED, 80), { barWidth: 4 })).toBe("SUCCEEDED   [████]  100%");
  });

  it("names the attempt from the second on, and clamps the percent", () => {
    const retry = { ...event(TaskState.RUNNING, 150), attempt: 2 };
    expect(renderProgressLine(retry, { barWidth: 2 })).toBe("RUNNING #2  [██]  100%");
  });

  it("cuts the line to the terminal width", () => {
    const line = renderProgressLine(event(TaskState.RUNNING, 10, { message: "x".repeat(200) }), { width: 60 });
    expect([...line]).toHaveLength(59);
    expect(line.endsWith("…")).toBe(true);
  });

  it("uses a shorter bar on narrow terminals", () => {
    expect(renderProgressLine(event(TaskState.RUNNING, 0), { width: 40 })).toBe(`RUNNING     [${"░".repeat(10)}]    0%`);
  });
});

describe("renderPlainLine", () => {
  it("prints one line for logs", () => {
    expect(renderPlainLine(event(TaskState.RUNNING, 33.9, { current: 1n, total: 3n, message: "a" }))).toBe("[RUNNING] 33% 1/3 a");
    expect(renderPlainLine(event(TaskState.RUNNING, 0, { current: 7n }))).toBe("[RUNNING] 0% 7");
  });
});

describe("ProgressDisplay", () => {
  it("redraws one line on a terminal and ends it once", () => {
    const { writes, stream } = recorder(true, 80);
    const display = new ProgressDisplay(stream);
    display.update(event(TaskState.RUNNING, 10));
    display.update(event(TaskState.RUNNING, 10)); // unchanged: not redrawn
    display.update(event(TaskState.SUCCEEDED, 100));
    display.finish();
    display.finish();
    expect(writes).toHaveLength(3);
    expect(writes[0]?.startsWith("\rRUNNING     [")).toBe(true);
    expect(writes[0]?.endsWith("]   10%\u001b[K")).toBe(true);
    expect(writes[2]).toBe("\n");
  });

  it("treats a terminal of unknown size as 80 columns", () => {
    const { writes, stream } = recorder(true, 0);
    new ProgressDisplay(stream).update(event(TaskState.RUNNING, 10));
    expect(writes[0]).toContain("10%");
  });

  it("prints plain lines when they change, and no trailing newline", () => {
    const { writes, stream } = recorder(false);
    const display = new ProgressDisplay(stream);
    for (const percent of [0, 0, 50]) display.update(event(TaskState.RUNNING, percent));
    display.finish();
    expect(writes).toEqual(["[RUNNING] 0%\n", "[RUNNING] 50%\n"]);
  });

  it("keeps the newest progress when a state event carries an older one", () => {
    const { writes, stream } = recorder(false);
    const display = new ProgressDisplay(stream);
    display.update(event(TaskState.RUNNING, 100, { current: 4n, total: 4n, at: 2000 }));
    display.update(event(TaskState.SUCCEEDED, 75, { current: 3n, total: 4n, at: 1000 }));
    expect(writes.at(-1)).toBe("[SUCCEEDED] 100% 4/4\n");
  });
});

describe("newestProgress", () => {
  it("prefers the event's progress unless the previous one is newer", () => {
    const older = event(TaskState.RUNNING, 10, { at: 1 }).progress;
    const newer = event(TaskState.RUNNING, 20, { at: 2 }).progress;
    expect(newestProgress(older, { state: TaskState.RUNNING, attempt: 1, progress: newer })?.percent).toBe(20);
    expect(newestProgress(newer, { state: TaskState.RUNNING, attempt: 1, progress: older })?.percent).toBe(20);
    expect(newestProgress(newer, { state: TaskState.QUEUED, attempt: 1, progress: undefined })?.percent).toBe(20);
  });
});
