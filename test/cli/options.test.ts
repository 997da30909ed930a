import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import {
  collectHeader,
  collectStates,
  dateArg,
  durationArg,
  integerIn,
  jsonArg,
  queueArg,
  queueListArg,
  timeArg,
  timeAt,
} from "../../src/cli/options.js";

describe("flag parsers", () => {
  it("parses integers within a range", () => {
    const priority = integerIn(-10, 10);
    expect(priority("-3")).toBe(-3);
    for (const bad of ["11", "1.5", "", " ", "x"]) expect(() => priority(bad)).toThrow(InvalidArgumentError);
    expect(() => priority("11")).toThrow("expected an integer from -10 to 10");
  });

  it("parses durations into milliseconds", () => {
    expect(durationArg("10s")).toBe(10_000);
    expect(durationArg("250ms")).toBe(250);
    expect(durationArg("2h")).toBe(7_200_000);
    expect(durationArg("1m30s")).toBe(90_000);
    expect(() => durationArg("-1s")).toThrow(/expected a duration/);
    expect(() => durationArg("soon")).toThrow(InvalidArgumentError);
  });

  it("parses ISO 8601 times only", () => {
    expect(dateArg("2030-01-31T12:00:00Z").toISOString()).toBe("2030-01-31T12:00:00.000Z");
    expect(() => dateArg("tomorrow")).toThrow(/ISO 8601/);
    expect(() => dateArg("March 7, 2030")).toThrow(InvalidArgumentError);
    expect(() => dateArg("2030-13-45")).toThrow(InvalidArgumentError);
  });

  it("parses times as ISO 8601 or as a duration ago", () => {
    const now = Date.parse("2030-01-31T12:00:00Z");
    expect(timeAt("7d", now).toISOString()).toBe("2030-01-24T12:00:00.000Z");
    expect(timeAt(" 2h ", now).toISOString()).toBe("2030-01-31T10:00:00.000Z");
    expect(timeAt("90s", now).toISOString()).toBe("2030-01-31T11:58:30.000Z");
    expect(timeAt("1.5h", now).toISOString()).toBe("2030-01-31T10:30:00.000Z");
    expect(timeAt("2030-01-01T00:00:00Z", now).toISOString()).toBe("2030-01-01T00:00:00.000Z");
    expect(timeAt("2030-01-01", now).toISOString()).toBe("2030-01-01T00:00:00.000Z");
    // A bare number is neither: milliseconds ago is never what anyone means.
    for (const bad of ["1500", "yesterday", "7 days", "-2h", "", "2030-13-45"]) {
      expect(() => timeAt(bad, now)).toThrow(/ISO 8601 time .* or a duration ago like 7d/);
    }
    expect(() => timeArg("soon")).toThrow(InvalidArgumentError);
    expect(Math.abs(timeArg("1h").getTime() - (Date.now() - 3_600_000))).toBeLessThan(60_000);
  });

  it("checks queue names and lists", () => {
    expect(queueArg("high_priority")).toBe("high_priority");
    expect(() => queueArg("with space")).toThrow(InvalidArgumentError);
    expect(queueListArg("high_priority, default ,low_priority")).toEqual(["high_priority", "default", "low_priority"]);
    expect(() => queueListArg("a,a")).toThrow(/listed twice/);
    expect(() => queueListArg(",")).toThrow(InvalidArgumentError);
  });

  it("accumulates states from lists and repeats, case-insensitively", () => {
    const once = collectStates("running,QUEUED");
    expect(collectStates("task_state_failed,running", once)).toEqual([TaskState.RUNNING, TaskState.QUEUED, TaskState.FAILED]);
    expect(() => collectStates("done")).toThrow(/expected states among/);
  });

  it("accumulates headers", () => {
    expect(collectHeader("x-b=2", collectHeader("Authorization: Bearer abc"))).toEqual({
      authorization: "Bearer abc",
      "x-b": "2",
    });
    expect(() => collectHeader("no separator")).toThrow(InvalidArgumentError);
  });

  it("reads JSON inline or from @file", () => {
    const dir = mkdtempSync(join(tmpdir(), "taskwire-cli-"));
    writeFileSync(join(dir, "input.json"), '{"count": 3}');
    const parse = jsonArg(dir);
    expect(parse('{"a": [1, "x"]}')).toEqual({ a: [1, "x"] });
    expect(parse("20")).toBe(20);
    expect(parse("@input.json")).toEqual({ count: 3 });
    expect(() => parse("@missing.json")).toThrow(/cannot read .*missing\.json/);
    expect(() => parse("{oops")).toThrow(/expected JSON/);
  });
});
