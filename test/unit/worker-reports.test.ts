/**
 * The pieces that bound a worker's reports (server/rpc/worker-reports.ts): rate budgets, line
 * cuts, timestamp range, output checks, and the pacing and grouping of Refused notices.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { fromJson } from "@bufbuild/protobuf";
import { anyPack, Int64ValueSchema, StructSchema } from "@bufbuild/protobuf/wkt";
import { Code as RpcCode } from "../../gen/google/rpc/code_pb.js";
import { ReportKind, type RefusedItem } from "../../gen/taskwire/v1/worker_service_pb.js";
import { silentLogger } from "../../src/core/logger.js";
import { cutLine, outputProblem, RefusalNotices, timestampProblem, TokenBucket } from "../../src/server/rpc/worker-reports.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("TokenBucket", () => {
  it("allows a burst of its capacity, then its rate a second", () => {
    const bucket = new TokenBucket(10, 10, 0);
    expect(Array.from({ length: 12 }, () => bucket.take(1, 0)).filter(Boolean)).toHaveLength(10);
    expect(bucket.take(1, 50)).toBe(false); // half a token
    expect(bucket.take(1, 100)).toBe(true);
    expect(bucket.take(5, 10_000)).toBe(true); // refilled to the capacity, no more
    expect(bucket.take(6, 10_000)).toBe(false);
  });
});

describe("cutLine", () => {
  it("keeps a line within the limit, cuts a longer one at a character boundary and notes it", () => {
    expect(cutLine("short", 100)).toBe("short");
    const cut = cutLine("é".repeat(100), 60);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(60);
    expect(cut).toMatch(/^é+… \[cut to 60 of 200 bytes\]$/);
  });
});

describe("timestampProblem", () => {
  it("accepts years 1 to 9999 and refuses what protobuf's Timestamp cannot hold", () => {
    expect(timestampProblem({ seconds: 0n, nanos: 0 } as never, "t")).toBeUndefined();
    expect(timestampProblem({ seconds: 253_402_300_799n, nanos: 999_999_999 } as never, "t")).toBeUndefined();
    expect(timestampProblem({ seconds: 253_402_300_800n, nanos: 0 } as never, "t")).toMatch(/^t: seconds 253402300800 is outside years 1 to 9999/);
    expect(timestampProblem({ seconds: -62_135_596_801n, nanos: 0 } as never, "t")).toMatch(/outside years 1 to 9999/);
    expect(timestampProblem({ seconds: 0n, nanos: -1 } as never, "t")).toBe("t: nanos -1 is outside 0 to 999,999,999");
  });
});

describe("outputProblem", () => {
  it("accepts a message of the declared type and names what is wrong with others", () => {
    expect(outputProblem(anyPack(StructSchema, fromJson(StructSchema, { a: 1 })), StructSchema, "t")).toBeUndefined();
    expect(outputProblem(anyPack(Int64ValueSchema, { $typeName: "google.protobuf.Int64Value", value: 1n }), StructSchema, "t")).toBe(
      'the output is a google.protobuf.Int64Value, but task type "t" declares google.protobuf.Struct',
    );
    expect(outputProblem({ $typeName: "google.protobuf.Any", typeUrl: "", value: new Uint8Array() }, StructSchema, "t")).toMatch(/^the output is an Any with no type URL/);
  });
});

describe("RefusalNotices", () => {
  const refusal = (message: string, taskId = "t1") => ({ report: ReportKind.PROGRESS, taskId, attempt: 1, code: RpcCode.RESOURCE_EXHAUSTED as const, message });

  it("groups alike refusals with a count and sends at most once an interval", async () => {
    vi.useFakeTimers({ now: 0 });
    const sent: RefusedItem[][] = [];
    const notices = new RefusalNotices((items) => sent.push(items), silentLogger(), 1000);
    for (let i = 0; i < 5; i++) notices.add(refusal("over the rate"));
    notices.add(refusal("too big", "t2"));
    await vi.advanceTimersByTimeAsync(0);
    expect(sent.map((items) => items.map((i) => [i.taskId, i.message, i.count]))).toEqual([
      [
        ["t1", "over the rate", 5],
        ["t2", "too big", 1],
      ],
    ]);
    // Within the interval: held back, then sent together at its end.
    notices.add(refusal("over the rate"));
    notices.add(refusal("over the rate"));
    await vi.advanceTimersByTimeAsync(500);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(sent[1]?.map((i) => i.count)).toEqual([2]);
    notices.close();
    notices.add(refusal("after close"));
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent).toHaveLength(2);
  });

  it("lists at most 100 distinct refusals, counting the rest in one more item", async () => {
    vi.useFakeTimers({ now: 0 });
    const sent: RefusedItem[][] = [];
    const notices = new RefusalNotices((items) => sent.push(items), silentLogger());
    for (let i = 0; i < 250; i++) notices.add(refusal(`different ${i}`));
    await vi.advanceTimersByTimeAsync(0);
    expect(sent[0]).toHaveLength(101);
    expect(sent[0]?.at(-1)).toMatchObject({ report: ReportKind.UNSPECIFIED, count: 150 });
  });
});
