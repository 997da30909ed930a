import { describe, expect, it } from "vitest";
import { concurrencyKeyProblem, effectiveLimits, parseRate } from "../../src/core/dispatch-limits.js";
import { parseDuration } from "../../src/core/durations.js";

describe("dispatch limits", () => {
  it("resolves an operator's override over the declared limits, field by field; 0 lifts a limit", () => {
    expect(effectiveLimits({ concurrency: 4, perKey: 2 }, { concurrency: 10 })).toEqual({ concurrency: 10, perKey: 2 });
    expect(effectiveLimits({ concurrency: 4 }, { concurrency: 0 })).toEqual({});
    expect(effectiveLimits(null, { rate: { count: 10, intervalMs: 1000 }, keyRate: { count: 0, intervalMs: 0 } })).toEqual({ rate: { count: 10, intervalMs: 1000 } });
    expect(effectiveLimits(undefined, undefined)).toEqual({});
  });

  it("parses rates as <count>/<duration>", () => {
    expect(parseRate("10/s", parseDuration)).toEqual({ count: 10, intervalMs: 1000 });
    expect(parseRate("100/1m", parseDuration)).toEqual({ count: 100, intervalMs: 60_000 });
    expect(parseRate("5/250ms", parseDuration)).toEqual({ count: 5, intervalMs: 250 });
    expect(parseRate("0/s", parseDuration)).toEqual({ count: 0, intervalMs: 1000 });
    for (const bad of ["10", "10/", "/s", "-1/s", "10/10", "1.5/s", "ten/s", "10/s/s"]) expect(parseRate(bad, parseDuration), bad).toBeUndefined();
  });

  it("names the problem of a bad concurrency key", () => {
    expect(concurrencyKeyProblem("tenant-1")).toBeUndefined();
    expect(concurrencyKeyProblem("x".repeat(129))).toMatch(/128/);
    expect(concurrencyKeyProblem("a\nb")).toMatch(/printable/);
  });
});
