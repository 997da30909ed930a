import { anyUnpack, StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/cli/context.js";
import { encodeInput } from "../../src/cli/input.js";
import { createTaskwireRegistry } from "../../src/client/index.js";
import { structToJson } from "../../src/common/any.js";

const registry = createTaskwireRegistry();

describe("encodeInput", () => {
  it("sends JSON objects as a Struct, also for types the catalog does not list", () => {
    for (const type of ["google.protobuf.Struct", undefined]) {
      const any = encodeInput({ count: 3 }, type, registry);
      expect(structToJson(anyUnpack(any, StructSchema)!)).toEqual({ count: 3 });
    }
  });

  it("encodes the proto JSON of known message types", () => {
    const any = encodeInput(20, "google.protobuf.UInt32Value", registry);
    expect(anyUnpack(any, UInt32ValueSchema)?.value).toBe(20);
  });

  it("refuses what does not fit, with usage errors", () => {
    expect(() => encodeInput([1], "google.protobuf.Struct", registry)).toThrow(/must be a JSON object/);
    expect(() => encodeInput("x", "google.protobuf.UInt32Value", registry)).toThrow(/not a valid google.protobuf.UInt32Value/);
    expect(() => encodeInput({}, "acme.v1.Report", registry)).toThrow(UsageError);
    expect(() => encodeInput({}, "acme.v1.Report", registry)).toThrow(/cannot encode acme.v1.Report/);
  });
});
