import { describe, expect, it } from "vitest";
import { TraceFlags } from "@opentelemetry/api";
import { attemptSpanPlacement, formatTraceparent, parseTraceparent, traceContextOf } from "../../src/common/trace-context.js";
import { otlpRequested } from "../../src/server/observability/otlp.js";

const PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("W3C trace context", () => {
  it("parses and formats traceparent, keeping only the sampled flag", () => {
    const context = parseTraceparent(PARENT, "vendor=a");
    expect(context).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(context?.traceState?.get("vendor")).toBe("a");
    expect(formatTraceparent(context!)).toBe(PARENT);
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?.traceFlags).toBe(TraceFlags.SAMPLED);
  });

  it("refuses malformed values, all-zero ids, version ff and extra fields in version 00", () => {
    for (const bad of [
      "",
      "garbage",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      `${PARENT}-extra`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    // A later version may append fields: its first four are read, and kept as version 00.
    expect(traceContextOf("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", null)).toEqual({ traceparent: PARENT, tracestate: "" });
  });

  it("keeps a tracestate only with a valid traceparent, and drops one too long", () => {
    expect(traceContextOf(null, "vendor=a")).toBeUndefined();
    expect(traceContextOf(PARENT, " vendor=a ")).toEqual({ traceparent: PARENT, tracestate: "vendor=a" });
    expect(traceContextOf(PARENT, `v=${"x".repeat(600)}`)).toEqual({ traceparent: PARENT, tracestate: "" });
  });

  it("places attempt 1 under the submitter's span and links retries from a new trace", () => {
    expect(attemptSpanPlacement(null, null, 1)).toBeUndefined();
    expect(attemptSpanPlacement("bad", null, 1)).toBeUndefined();
    expect(attemptSpanPlacement(PARENT, null, 1)).toMatchObject({ links: [], root: false });
    const retry = attemptSpanPlacement(PARENT, null, 2);
    expect(retry?.root).toBe(true);
    expect(retry?.links[0]?.context.spanId).toBe("00f067aa0ba902b7");
  });
});

describe("OTLP export of the server command", () => {
  it("is asked for by the standard OTEL_* variables only", () => {
    expect(otlpRequested({})).toBe(false);
    expect(otlpRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(otlpRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" })).toBe(true);
    expect(otlpRequested({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(otlpRequested({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(false);
    expect(otlpRequested({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "true" })).toBe(false);
  });
});
