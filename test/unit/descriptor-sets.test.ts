/**
 * Reading a worker's FileDescriptorSet as protoc would have written it (common/descriptors.ts):
 * any file order, well-known types implied, JSON names filled in; and clear refusals.
 */
import { describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorSetSchema,
  StructSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { DescriptorSetError, descriptorSetOf, protocJsonName, resolveDescriptorSet } from "../../src/common/descriptors.js";

function file(name: string, dependency: string[], messages: { name: string; fields: [string, Type, string?][] }[]): FileDescriptorProto {
  return create(FileDescriptorSetSchema, {
    file: [
      {
        name,
        package: "t.v1",
        syntax: "proto3",
        dependency,
        messageType: messages.map((m) => ({
          name: m.name,
          field: m.fields.map(([fieldName, type, typeName], i) => ({ name: fieldName, number: i + 1, label: Label.OPTIONAL, type, typeName })),
        })),
      },
    ],
  }).file[0]!;
}

const base = file("t/v1/base.proto", [], [{ name: "Base", fields: [["base_id", Type.STRING]] }]);
const mid = file("t/v1/mid.proto", ["t/v1/base.proto", "google/protobuf/struct.proto"], [
  { name: "Mid", fields: [["the_base", Type.MESSAGE, ".t.v1.Base"], ["extra_json", Type.MESSAGE, ".google.protobuf.Struct"]] },
]);
const top = file("t/v1/top.proto", ["t/v1/mid.proto", "t/v1/base.proto"], [{ name: "Top", fields: [["mid_part", Type.MESSAGE, ".t.v1.Mid"], ["_x__y", Type.INT32]] }]);

describe("protocJsonName", () => {
  it.each([
    ["vertex_count", "vertexCount"],
    ["already", "already"],
    ["a__b", "aB"],
    ["_x", "X"],
    ["x_", "x"],
    ["field_2d", "field2d"],
    ["HTTP_code", "HTTPCode"],
  ])("%s → %s, as protoc names it", (name, json) => {
    expect(protocJsonName(name)).toBe(json);
  });
});

describe("resolveDescriptorSet", () => {
  it("accepts the files in any order and puts them in dependency order", () => {
    for (const order of [[top, mid, base], [mid, top, base], [base, mid, top]]) {
      const { set, registry } = resolveDescriptorSet(create(FileDescriptorSetSchema, { file: order }));
      expect(set.file.map((f) => f.name)).toEqual(["google/protobuf/struct.proto", "t/v1/base.proto", "t/v1/mid.proto", "t/v1/top.proto"]);
      expect(registry.getMessage("t.v1.Top")?.field.midPart?.message?.typeName).toBe("t.v1.Mid");
    }
  });

  it("resolves well-known types the set imports, or declares, without their files", () => {
    const { registry } = resolveDescriptorSet(create(FileDescriptorSetSchema, { file: [mid, base] }));
    expect(registry.getMessage("t.v1.Mid")?.field.extraJson?.message?.typeName).toBe("google.protobuf.Struct");
    const empty = resolveDescriptorSet(create(FileDescriptorSetSchema), ["google.protobuf.Struct", "google.protobuf.Empty"]);
    expect(empty.registry.getMessage("google.protobuf.Struct")).toBeDefined();
    expect(empty.registry.getMessage("google.protobuf.Empty")).toBeDefined();
    expect(empty.set.file.map((f) => f.name).sort()).toEqual(["google/protobuf/empty.proto", "google/protobuf/struct.proto"]);
  });

  it("fills missing json_name as protoc does, keeps given ones, and does not touch its input", () => {
    const custom = file("t/v1/custom.proto", [], [{ name: "Custom", fields: [["snake_case", Type.STRING], ["kept_name", Type.STRING]] }]);
    custom.messageType[0]!.field[1]!.jsonName = "chosenName";
    const input = create(FileDescriptorSetSchema, { file: [top, mid, base, custom] });
    const before = toBinary(FileDescriptorSetSchema, input);
    const { set, registry } = resolveDescriptorSet(input);
    expect(toBinary(FileDescriptorSetSchema, input)).toEqual(before);
    const fields = registry.getMessage("t.v1.Top")!.fields.map((f) => f.jsonName);
    expect(fields).toEqual(["midPart", "XY"]);
    expect(registry.getMessage("t.v1.Custom")!.fields.map((f) => f.jsonName)).toEqual(["snakeCase", "chosenName"]);
    // What is stored resolves to the same again.
    const again = resolveDescriptorSet(fromBinary(FileDescriptorSetSchema, toBinary(FileDescriptorSetSchema, set)));
    expect(toBinary(FileDescriptorSetSchema, again.set)).toEqual(toBinary(FileDescriptorSetSchema, set));
  });

  it("replaces a well-known file sent by the worker with the server's copy", () => {
    const sent = descriptorSetOf([StructSchema]);
    const stale = { ...sent.file[0]!, messageType: sent.file[0]!.messageType.slice(0, 1) }; // an older struct.proto, Struct only
    const { registry } = resolveDescriptorSet(create(FileDescriptorSetSchema, { file: [stale] }));
    expect(registry.getMessage("google.protobuf.ListValue")).toBeDefined();
  });

  it.each([
    ["an import in neither the set nor the well-known types", [top, mid], 'file "t/v1/mid.proto" imports "t/v1/base.proto", which is neither in the set nor a well-known type (google/protobuf/*.proto)'],
    ["an import cycle", [file("a.proto", ["b.proto"], []), file("b.proto", ["a.proto"], [])], "import cycle: a.proto → b.proto → a.proto"],
    ["a file given twice", [base, base], 'file "t/v1/base.proto" is in the set twice'],
    ["a type reference that does not resolve", [file("bad.proto", [], [{ name: "Bad", fields: [["x", Type.MESSAGE, ".nowhere.Thing"]] }])], "nowhere.Thing"],
  ])("refuses %s with a DescriptorSetError naming it", (_name, files, message) => {
    expect(() => resolveDescriptorSet(create(FileDescriptorSetSchema, { file: files }))).toThrow(DescriptorSetError);
    expect(() => resolveDescriptorSet(create(FileDescriptorSetSchema, { file: files }))).toThrow(message);
  });

  it("reads a chain of thousands of files without overflowing the stack", () => {
    const files = Array.from({ length: 5000 }, (_, i) => file(`c${i}.proto`, i === 0 ? [] : [`c${i - 1}.proto`], []));
    const { set } = resolveDescriptorSet(create(FileDescriptorSetSchema, { file: files.reverse() }));
    expect(set.file[0]?.name).toBe("c0.proto");
    expect(createFileRegistry(set).getFile("c4999.proto")).toBeDefined();
  });
});
