import { create } from "@bufbuild/protobuf";
import { anyPack, durationFromMs, StringValueSchema, StructSchema, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ErrorKind, ProgressSchema, TaskErrorSchema, TaskSchema, TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { ListTasksResponseSchema } from "../../gen/taskwire/v1/task_service_pb.js";
import {
  formatMs,
  formatOutput,
  formatTable,
  formatTaskDetails,
  formatTaskTable,
  taskPageToJson,
  taskToJson,
} from "../../src/cli/format.js";
import { createTaskwireRegistry } from "../../src/client/index.js";
import { structFromJson } from "../../src/common/any.js";

const registry = createTaskwireRegistry();
const T0 = Date.parse("2030-01-02T03:04:05.678Z");

const failed = create(TaskSchema, {
  id: "01a2-task",
  type: "examples.flaky",
  queue: "default",
  priority: 3,
  state: TaskState.FAILED,
  input: anyPack(StructSchema, structFromJson({ failTimes: 5 })),
  attempt: 2,
  maxAttempts: 2,
  errors: [1, 2].map((attempt) =>
    create(TaskErrorSchema, {
      attempt,
      kind: ErrorKind.TASK_ERROR,
      name: "Error",
      message: `boom ${attempt}`,
      retryable: true,
      workerId: "w1",
      time: timestampFromMs(T0 + attempt * 1000),
    }),
  ),
  progress: create(ProgressSchema, { percent: 42.7, current: 42n, total: 100n, message: "working" }),
  timeout: durationFromMs(90_000),
  createTime: timestampFromMs(T0),
});

describe("tables and fields", () => {
  it("aligns columns without trailing spaces", () => {
    expect(formatTable(["A", "LONG"], [["xyz", "1"], ["", "22"]])).toBe("A    LONG\nxyz  1\n     22\n");
  });

  it("formats durations", () => {
    expect(formatMs(250)).toBe("250ms");
    expect(formatMs(30_000)).toBe("30s");
    expect(formatMs(90_500)).toBe("1m30s500ms");
    expect(formatMs(93_600_000)).toBe("1d2h");
  });

  it("shows a task's details and errors, leaving out what is unset", () => {
    expect(formatTaskDetails(failed)).toBe(
      [
        "id:        01a2-task",
        "type:      examples.flaky",
        "state:     FAILED",
        "attempt:   2 of 2",
        "queue:     default",
        "priority:  3",
        "progress:  42% 42/100 working",
        "timeout:   1m30s",
        "created:   2030-01-02T03:04:05Z",
        "errors:",
        "  attempt 1  TASK_ERROR  Error: boom 1  (retryable, worker w1, 2030-01-02T03:04:06Z)",
        "  attempt 2  TASK_ERROR  Error: boom 2  (retryable, worker w1, 2030-01-02T03:04:07Z)",
        "",
      ].join("\n"),
    );
  });

  it("shows the last error's stack under its message, and its details as JSON", () => {
    const [first, second] = failed.errors;
    const detailed = create(TaskSchema, {
      ...failed,
      progress: undefined,
      errors: [
        { ...first!, stack: "Error: boom 1\n    at older (a.ts:1:1)" },
        {
          ...second!,
          name: "DetailedError",
          message: "quota exceeded",
          retryable: false,
          stack: "DetailedError: quota exceeded\n    at run (tasks.ts:10:11)\nCaused by: Error: 429\n    at call (http.ts:3:5)\n",
          details: { limit: 10, used: [7, 3] },
        },
      ],
    });
    expect(formatTaskDetails(detailed).split("errors:\n")[1]).toBe(
      [
        "  attempt 1  TASK_ERROR  Error: boom 1  (retryable, worker w1, 2030-01-02T03:04:06Z)",
        "  attempt 2  TASK_ERROR  DetailedError: quota exceeded  (not retryable, worker w1, 2030-01-02T03:04:07Z)",
        "        at run (tasks.ts:10:11)",
        "    Caused by: Error: 429",
        "        at call (http.ts:3:5)",
        "    details: {",
        '      "limit": 10,',
        '      "used": [',
        "        7,",
        "        3",
        "      ]",
        "    }",
        "",
      ].join("\n"),
    );
  });

  it("shows a stack whose first line is not the message (a Python traceback) whole", () => {
    const [, second] = failed.errors;
    const python = create(TaskSchema, {
      ...failed,
      errors: [{ ...second!, name: "ValueError", message: "bad", stack: 'Traceback (most recent call last):\n  File "w.py", line 3\nValueError: bad\n' }],
    });
    expect(formatTaskDetails(python)).toContain(
      [
        "  attempt 2  TASK_ERROR  ValueError: bad  (retryable, worker w1, 2030-01-02T03:04:07Z)",
        "    Traceback (most recent call last):",
        '      File "w.py", line 3',
        "    ValueError: bad",
        "",
      ].join("\n"),
    );
  });

  it("lists tasks", () => {
    expect(formatTaskTable([failed])).toBe(
      "ID         TYPE            STATE   QUEUE    PRIORITY  ATTEMPT  PROGRESS  CREATED\n" +
        "01a2-task  examples.flaky  FAILED  default  3         2/2      42%       2030-01-02T03:04:05Z\n",
    );
  });
});

describe("JSON output", () => {
  it("gives proto JSON with the input right after the state", () => {
    const json = taskToJson(failed, registry);
    expect(Object.keys(json).slice(0, 6)).toEqual(["id", "type", "queue", "priority", "state", "input"]);
    expect(json["state"]).toBe("TASK_STATE_FAILED");
    expect(json["input"]).toEqual({ "@type": "type.googleapis.com/google.protobuf.Struct", value: { failTimes: 5 } });
    expect(json["timeout"]).toBe("90s");
  });

  it("does not fail on types the CLI does not know", () => {
    const task = create(TaskSchema, {
      id: "t",
      state: TaskState.SUCCEEDED,
      output: { typeUrl: "type.googleapis.com/acme.Report", value: new Uint8Array([255]) },
    });
    expect(taskToJson(task, registry)["output"]).toEqual({ "@type": "type.googleapis.com/acme.Report", value: "/w==" });
  });

  it("gives a page with its total as a string, as int64s are", () => {
    const page = create(ListTasksResponseSchema, { tasks: [failed], nextPageToken: "next", totalCount: 7n });
    const json = taskPageToJson(page, registry);
    expect(json["totalCount"]).toBe("7");
    expect(json["nextPageToken"]).toBe("next");
    expect((json["tasks"] as unknown[]).length).toBe(1);
  });

  it("prints a string output as it is, and other outputs as JSON", () => {
    const text = create(TaskSchema, { state: TaskState.SUCCEEDED, output: anyPack(StringValueSchema, create(StringValueSchema, { value: "120" })) });
    expect(formatOutput(text, registry)).toBe("120\n");
    const object = create(TaskSchema, { state: TaskState.SUCCEEDED, output: anyPack(StructSchema, structFromJson({ a: 1 })) });
    expect(formatOutput(object, registry)).toBe('{\n  "a": 1\n}\n');
  });
});
