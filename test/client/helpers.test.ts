import { create } from "@bufbuild/protobuf";
import { anyPack, StringValueSchema, StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import {
  anyToJson,
  anyValueToJson,
  buildSubmitRequest,
  createTaskwireRegistry,
  durationToMs,
  isTerminalState,
  parseTaskState,
  taskStateName,
} from "../../src/client/index.js";
import { packValue, structFromJson } from "../../src/common/any.js";

describe("durationToMs", () => {
  it("takes milliseconds and duration strings", () => {
    expect(durationToMs(1500, "delay")).toBe(1500);
    expect(durationToMs("10s", "delay")).toBe(10_000);
    expect(durationToMs("1.5m", "delay")).toBe(90_000);
    expect(durationToMs("250ms", "delay")).toBe(250);
  });

  it("refuses negative and malformed durations, naming the option", () => {
    expect(() => durationToMs(-1, "delay")).toThrow(/^delay: expected a non-negative duration/);
    expect(() => durationToMs("soon", "timeout")).toThrow(/^timeout: .*"soon"/);
    expect(() => durationToMs(Number.NaN, "timeout")).toThrow(RangeError);
  });
});

describe("buildSubmitRequest", () => {
  const input = packValue(StructSchema, { a: 1 });

  it("leaves unset options unset, so the type's defaults apply", () => {
    const request = buildSubmitRequest("t", input);
    expect(request.queue).toBe("");
    expect(request.priority).toBeUndefined();
    expect(request.maxAttempts).toBeUndefined();
    expect(request.timeout).toBeUndefined();
    expect(request.schedule.case).toBeUndefined();
  });

  it("converts durations and times", () => {
    const runAt = new Date("2030-01-02T03:04:05.678Z");
    const request = buildSubmitRequest("t", input, { runAt, timeout: "30s", maxAttempts: 4, idempotencyKey: "k" });
    expect(request.schedule).toMatchObject({ case: "runAt", value: { seconds: BigInt(Math.floor(runAt.getTime() / 1000)), nanos: 678_000_000 } });
    expect(request.timeout).toMatchObject({ seconds: 30n, nanos: 0 });
    expect(request.maxAttempts).toBe(4);
    expect(request.idempotencyKey).toBe("k");
  });

  it("refuses an invalid date", () => {
    expect(() => buildSubmitRequest("t", input, { runAt: new Date("nope") })).toThrow(/runAt: invalid date/);
  });
});

describe("task states", () => {
  it("parses names case-insensitively, with or without prefix", () => {
    expect(parseTaskState("running")).toBe(TaskState.RUNNING);
    expect(parseTaskState("TASK_STATE_FAILED")).toBe(TaskState.FAILED);
    expect(parseTaskState("unspecified")).toBeUndefined();
    expect(parseTaskState("toString")).toBeUndefined();
    expect(parseTaskState("done")).toBeUndefined();
  });

  it("names states and knows the terminal ones", () => {
    expect(taskStateName(TaskState.CANCELLING)).toBe("CANCELLING");
    expect([...Array(8).keys()].filter((s) => isTerminalState(s as TaskState))).toEqual([5, 6, 7]);
  });
});

describe("JSON of Any values", () => {
  const registry = createTaskwireRegistry();

  it("gives a Struct as its object and a wrapper as its value", () => {
    expect(anyValueToJson(anyPack(StructSchema, structFromJson({ n: 1, s: ["x"] })), registry)).toEqual({ n: 1, s: ["x"] });
    expect(anyValueToJson(anyPack(StringValueSchema, create(StringValueSchema, { value: "120" })), registry)).toBe("120");
    expect(anyValueToJson(anyPack(UInt32ValueSchema, create(UInt32ValueSchema, { value: 7 })), registry)).toBe(7);
  });

  it("gives proto JSON of an Any with its type", () => {
    expect(anyToJson(anyPack(StringValueSchema, create(StringValueSchema, { value: "x" })), registry)).toEqual({
      "@type": "type.googleapis.com/google.protobuf.StringValue",
      value: "x",
    });
  });

  it("falls back to base64 bytes for unknown types", () => {
    const unknown = { $typeName: "google.protobuf.Any", typeUrl: "type.googleapis.com/acme.Thing", value: new Uint8Array([1, 2, 3]) } as const;
    expect(anyValueToJson(unknown, registry)).toEqual({ "@type": "type.googleapis.com/acme.Thing", value: "AQID" });
    expect(anyToJson(unknown, registry)).toEqual({ "@type": "type.googleapis.com/acme.Thing", value: "AQID" });
  });
});
