/** What the server records of a worker's TaskFailure. */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import { TaskFailureSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import { utf8Length } from "../../src/core/error-bounds.js";
import { attemptErrorOf } from "../../src/server/rpc/task-failure.js";

const NOW = new Date("2030-01-02T03:04:05.000Z");

describe("attemptErrorOf", () => {
  it("keeps the fields, the stack and the details", () => {
    const failure = create(TaskFailureSchema, {
      kind: ErrorKind.TASK_ERROR,
      name: "DetailedError",
      message: "declined",
      retryable: false,
      stack: "DetailedError: declined\n    at f (a.ts:1:1)",
      details: { status: 402, tags: ["a"], nested: { ok: true } },
    });
    expect(attemptErrorOf(failure, 2, "w1", NOW)).toEqual({
      attempt: 2,
      kind: "TASK_ERROR",
      name: "DetailedError",
      message: "declined",
      retryable: false,
      workerId: "w1",
      time: NOW.toISOString(),
      stack: "DetailedError: declined\n    at f (a.ts:1:1)",
      details: { status: 402, tags: ["a"], nested: { ok: true } },
    });
  });

  it("fills a bare failure, without a stack or details", () => {
    expect(attemptErrorOf(undefined, 1, "w1", NOW)).toEqual({
      attempt: 1,
      kind: "TASK_ERROR",
      name: "Error",
      message: "the worker reported a failure without a message",
      retryable: true,
      workerId: "w1",
      time: NOW.toISOString(),
    });
  });

  it("cuts a long stack and drops large details with a note", () => {
    const failure = create(TaskFailureSchema, { message: "big", stack: "x\n".repeat(50_000), details: { blob: "b".repeat(17_000) } });
    const error = attemptErrorOf(failure, 1, "w1", NOW);
    expect(utf8Length(error.stack ?? "")).toBeLessThanOrEqual(16 * 1024);
    expect(error.stack).toMatch(/\[stack cut to 16384 of 100000 bytes\]$/);
    expect(error.message).toBe("big [details dropped: 17011 bytes of JSON, over the limit of 16384]");
    expect(error).not.toHaveProperty("details");
  });

  it("stores no U+0000 nor lone surrogates, and no non-finite numbers", () => {
    const failure = create(TaskFailureSchema, {
      name: "E\u0000",
      message: "bad \ud800 text",
      stack: "at \u0000",
      details: { "k\u0000": ["v\udc00", { ok: "\ud83d\ude00" }], n: Number.NaN },
    });
    const error = attemptErrorOf(failure, 1, "w1", NOW);
    expect(error.name).toBe("E\uFFFD");
    expect(error.message).toBe("bad \uFFFD text");
    expect(error.stack).toBe("at \uFFFD");
    expect(error.details).toEqual({ "k\uFFFD": ["v\uFFFD", { ok: "😀" }], n: null });
  });
});
