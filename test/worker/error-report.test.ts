/** What a failed attempt reports about the thrown error: stack with causes, details, and their bounds. */
import { describe, expect, it } from "vitest";
import { utf8Length } from "../../src/core/error-bounds.js";
import { MAX_ERROR_STACK_BYTES } from "../../src/core/task-types.js";
import { MAX_REPORTED_CAUSES, reportOfError } from "../../src/worker/error-report.js";
import { DetailedError, isNonRetryable } from "../../src/worker/index.js";

describe("reportOfError", () => {
  it("reports the stack and the stacks of the cause chain", () => {
    const root = new RangeError("socket closed");
    const error = new DetailedError("invoice upload failed", { cause: new Error("retry budget spent", { cause: root }) });
    const report = reportOfError(error);
    expect(report.name).toBe("DetailedError");
    expect(report.message).toBe("invoice upload failed");
    const lines = report.stack.split("\n");
    expect(lines[0]).toBe("DetailedError: invoice upload failed");
    expect(lines[1]).toMatch(/^ {4}at .*error-report\.test\.ts/);
    expect(report.stack).toContain("\nCaused by: Error: retry budget spent\n    at ");
    expect(report.stack).toContain("\nCaused by: RangeError: socket closed\n    at ");
    expect(report.details).toBeUndefined();
  });

  it("reports a non-Error cause as text, and cuts circular and long chains", () => {
    expect(reportOfError(new Error("outer", { cause: "a plain string" })).stack).toContain("\nCaused by: a plain string");
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    Object.assign(a, { cause: b });
    expect(reportOfError(a).stack).toMatch(/Caused by: Error: b[\s\S]*\nCaused by: \[a cause seen above: the chain is circular\]$/);
    let deep: Error = new Error("e0");
    for (let i = 1; i <= 20; i++) deep = new Error(`e${i}`, { cause: deep });
    const stack = reportOfError(deep).stack;
    expect(stack.match(/^Caused by: Error/gm)).toHaveLength(MAX_REPORTED_CAUSES);
    expect(stack).toMatch(/\nCaused by: \[further causes not shown\]$/);
  });

  it("bounds the stack to 16 KiB", () => {
    const error = new Error("huge");
    error.stack = `Error: huge\n${"    at somewhere (file.ts:1:1)\n".repeat(4000)}`;
    const { stack } = reportOfError(error);
    expect(utf8Length(stack)).toBeLessThanOrEqual(MAX_ERROR_STACK_BYTES);
    expect(stack).toMatch(/^Error: huge\n/);
    expect(stack).toMatch(/\[stack cut to 16384 of \d+ bytes\]$/);
  });

  it("has no stack for a thrown non-Error", () => {
    expect(reportOfError("just a string")).toEqual({ name: "Error", message: "just a string", stack: "" });
  });

  it("takes details from a DetailedError or a plain `details` object, as JSON.stringify makes them", () => {
    const at = new Date("2030-01-02T03:04:05.000Z");
    const report = reportOfError(new DetailedError("refused", { details: { status: 409, at: at as never, skip: undefined as never } }));
    expect(report.details).toEqual({ status: 409, at: "2030-01-02T03:04:05.000Z" });
    expect(reportOfError(Object.assign(new Error("x"), { details: { code: "E42", tries: [1, 2] } })).details).toEqual({ code: "E42", tries: [1, 2] });
    // Not a plain object: another library's `details` (gRPC's is a string), left alone.
    expect(reportOfError(Object.assign(new Error("x"), { details: "UNAVAILABLE: no connection" }))).not.toHaveProperty("details");
    expect(reportOfError(Object.assign(new Error("x"), { details: new Map() }))).not.toHaveProperty("details");
  });

  it("drops details that are not JSON, too deep or too large, with a note in the message", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const cases: [unknown, RegExp][] = [
      [{ count: 10n }, /^boom \[details dropped: not JSON \(.*BigInt.*\)\]$/],
      [cyclic, /^boom \[details dropped: not JSON \(.*circular.*\)\]$/i],
      [deep, /^boom \[details dropped: nested deeper than 32 levels\]$/],
      [{ blob: "x".repeat(20_000) }, /^boom \[details dropped: 20011 bytes of JSON, over the limit of 16384\]$/],
    ];
    for (const [details, message] of cases) {
      const report = reportOfError(Object.assign(new Error("boom"), { details }));
      expect(report.message).toMatch(message);
      expect(report).not.toHaveProperty("details");
      expect(report.stack).toMatch(/^Error: boom\n/);
    }
  });

  it("a DetailedError with retryable false is not retried", () => {
    expect(isNonRetryable(new DetailedError("no", { retryable: false }))).toBe(true);
    expect(isNonRetryable(new DetailedError("maybe"))).toBe(false);
  });
});
