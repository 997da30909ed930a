import { describe, expect, it } from "vitest";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  file_google_protobuf_descriptor,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_taskwire_v1_task_service } from "../../gen/taskwire/v1/task_service_pb.js";
import { DescriptorIndex } from "../../src/server/rpc/reflection/descriptor-index.js";

/** A worker's file: message `ext.v1.Thing` and extension 50001 of MessageOptions. */
function workerFile(fieldName: string) {
  const set = create(FileDescriptorSetSchema, {
    file: [
      file_google_protobuf_descriptor.proto,
      create(FileDescriptorProtoSchema, {
        name: "ext/v1/thing.proto",
        package: "ext.v1",
        syntax: "proto3",
        dependency: ["google/protobuf/descriptor.proto"],
        messageType: [{ name: "Thing", field: [{ name: fieldName, number: 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL }] }],
        extension: [
          { name: "note", number: 50_001, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL, extendee: ".google.protobuf.MessageOptions" },
        ],
      }),
    ],
  });
  const registry = createFileRegistry(set);
  return registry.getFile("ext/v1/thing.proto") ?? registry.getFile("ext/v1/thing");
}

describe("DescriptorIndex", () => {
  const index = new DescriptorIndex([file_taskwire_v1_task_service, file_grpc_health_v1_health]);

  it("finds files by their import name, dependencies included", () => {
    expect(index.fileByName("taskwire/v1/task_service.proto")).toBe(file_taskwire_v1_task_service);
    expect(index.fileByName("taskwire/v1/task.proto")?.proto.package).toBe("taskwire.v1");
    expect(index.fileByName("google/protobuf/any.proto")).toBeDefined();
    expect(index.fileByName("taskwire/v1/task_service")).toBeUndefined();
  });

  it.each([
    ["taskwire.v1.TaskService", "taskwire/v1/task_service.proto"],
    ["taskwire.v1.TaskService.Submit", "taskwire/v1/task_service.proto"],
    ["taskwire.v1.SubmitRequest.run_at", "taskwire/v1/task_service.proto"],
    ["taskwire.v1.SubmitRequest.schedule", "taskwire/v1/task_service.proto"],
    ["taskwire.v1.TaskState", "taskwire/v1/task.proto"],
    ["taskwire.v1.TASK_STATE_RUNNING", "taskwire/v1/task.proto"],
    ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
    ["grpc.health.v1.HealthCheckResponse.SERVING", "grpc/health/v1/health.proto"],
    [".google.protobuf.Any", "google/protobuf/any.proto"],
  ])("resolves the symbol %s", (symbol, file) => {
    expect(index.fileContainingSymbol(symbol)?.proto.name).toBe(file);
  });

  it("does not resolve what is not declared", () => {
    expect(index.fileContainingSymbol("taskwire.v1")).toBeUndefined();
    expect(index.fileContainingSymbol("taskwire.v1.Nope")).toBeUndefined();
    expect(index.extensionNumbersOf("taskwire.v1.Nope")).toBeUndefined();
    expect(index.extensionNumbersOf("taskwire.v1.TaskService")).toBeUndefined(); // a service, not a message
  });

  it("lists a file first, then each transitive dependency once", () => {
    const names = index.withDependencies(file_taskwire_v1_task_service).map((f) => f.proto.name);
    expect(names[0]).toBe("taskwire/v1/task_service.proto");
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["taskwire/v1/task.proto", "google/protobuf/any.proto", "google/protobuf/struct.proto"]));
  });

  it("indexes extensions by extendee and number", () => {
    const file = workerFile("label");
    expect(file).toBeDefined();
    const withWorker = new DescriptorIndex(file ? [file] : []);
    expect(withWorker.fileContainingExtension("google.protobuf.MessageOptions", 50_001)?.proto.name).toBe("ext/v1/thing.proto");
    expect(withWorker.fileContainingExtension("google.protobuf.MessageOptions", 50_002)).toBeUndefined();
    expect(withWorker.extensionNumbersOf("google.protobuf.MessageOptions")).toEqual([50_001]);
    expect(withWorker.extensionNumbersOf("ext.v1.Thing")).toEqual([]);
    expect(withWorker.fileContainingSymbol("ext.v1.note")?.proto.name).toBe("ext/v1/thing.proto");
  });

  it("keeps the first file of a name when two declare it", () => {
    const first = workerFile("first");
    const second = workerFile("second");
    const both = new DescriptorIndex([first, second].filter((f) => f !== undefined));
    expect(both.fileByName("ext/v1/thing.proto")).toBe(first);
    expect(both.fileContainingSymbol("ext.v1.Thing.first")).toBe(first);
    expect(both.fileContainingSymbol("ext.v1.Thing.second")).toBeUndefined();
  });
});
