/**
 * The one grammar of durations (`src/core/durations.ts`): what `status` prints, `--timeout`
 * reads back; a number without its unit is refused with a message naming the unit it lacks.
 */
import { describe, expect, it } from "vitest";
import { durationHint, formatDuration, parseDuration } from "../../src/core/durations.js";
import { durationArg } from "../../src/cli/options.js";
import { formatMs } from "../../src/cli/format.js";
import { durationToMs } from "../../src/client/index.js";
import { ConfigError, loadServerConfig } from "../../src/config/config.js";

describe("durations", () => {
  it.each([
    ["250ms", 250],
    ["10s", 10_000],
    ["1.5s", 1_500],
    ["1m30s", 90_000],
    ["1h30m", 5_400_000],
    ["2h", 7_200_000],
    ["1d12h", 129_600_000],
    ["1s500ms", 1_500],
    ["5ms", 5],
    [" 3m ", 180_000],
  ])("parses %j", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "10", "1.5", "-1s", "10 s", "1s1m", "1m1m", "1y", "ms", "1e3s", "m30s"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("prints what it parses, and parses what it prints", () => {
    for (const ms of [0, 1, 250, 999, 1_000, 1_500, 59_999, 60_000, 90_000, 3_599_000, 3_600_000, 5_400_000, 86_400_000, 129_600_000, 90_061_001]) {
      const text = formatDuration(ms);
      expect(parseDuration(text), text).toBe(ms);
    }
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(1_500)).toBe("1s500ms");
    expect(formatDuration(0)).toBe("0ms");
  });

  it("is the grammar of the CLI's flags and what the CLI prints: `status` shows 1m30s, `--timeout 1m30s` reads it", () => {
    expect(formatMs(90_000)).toBe("1m30s");
    expect(durationArg(formatMs(90_000))).toBe(90_000);
  });

  it("says which unit a bare number lacks: `--delay 10` is not 10 ms", () => {
    expect(() => durationArg("10")).toThrow('"10" has no unit (10s? 10ms?)');
    expect(durationHint("soon")).not.toContain("has no unit");
  });

  it("is the grammar of the client SDK's strings (numbers stay milliseconds)", () => {
    expect(durationToMs("1m30s", "timeout")).toBe(90_000);
    expect(durationToMs(1500, "timeout")).toBe(1500);
    expect(() => durationToMs("10", "delay")).toThrow(/^delay: .*"10" has no unit/);
  });

  it("is the grammar of the server's settings, whose messages name the least value and the missing unit", () => {
    expect(loadServerConfig({ TASKWIRE_LEASE_TIMEOUT: "1m30s" }).leaseTimeoutMs).toBe(90_000);
    expect(() => loadServerConfig({ TASKWIRE_LEASE_TIMEOUT: "3000" })).toThrow(ConfigError);
    expect(() => loadServerConfig({ TASKWIRE_LEASE_TIMEOUT: "3000" })).toThrow(
      /TASKWIRE_LEASE_TIMEOUT \(--lease-timeout\) must be a duration of at least 100ms with its unit .*"3000" has no unit/,
    );
  });
});
