/**
 * Server reflection (`grpc.reflection.v1` and `v1alpha`) against a real server: the server's
 * own services, every kind of request, NOT_FOUND answers, and the task types a worker declared
 * with descriptors the server has never seen, down to `buf curl` submitting typed JSON for them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  file_google_protobuf_descriptor,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ServerReflection,
  type ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createClient, TaskState } from "../../src/client/index.js";
import { bufCurl } from "../support/buf-curl.js";
import { declareTypes, type Declaration } from "../support/declared-types.js";
import { startTestServer, type TestServer } from "../support/server.js";

const SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "taskwire.v1.AdminService",
  "taskwire.v1.ScheduleService",
  "taskwire.v1.TaskService",
  "taskwire.v1.WorkerService",
];

/**
 * A file only the worker knows: a message and an extension of `google.protobuf.MessageOptions`,
 * as protoc would describe `reflectiontest/v1/thing.proto`.
 */
const THING_FILE: FileDescriptorProto = create(FileDescriptorProtoSchema, {
  name: "reflectiontest/v1/thing.proto",
  package: "reflectiontest.v1",
  syntax: "proto3",
  dependency: ["google/protobuf/descriptor.proto"],
  messageType: [
    {
      name: "Thing",
      field: [
        { name: "label", number: 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: "label" },
        { name: "count", number: 2, type: FieldDescriptorProto_Type.INT32, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: "count" },
      ],
    },
  ],
  extension: [
    {
      name: "thing_note",
      number: 50_001,
      type: FieldDescriptorProto_Type.STRING,
      label: FieldDescriptorProto_Label.OPTIONAL,
      extendee: ".google.protobuf.MessageOptions",
      jsonName: "thingNote",
    },
  ],
});

let server: TestServer;
let declaration: Declaration;

type RequestInit = MessageInitShape<typeof ServerReflectionRequestSchema>;

/** Sends `requests` on one reflection stream and collects one response per request. */
async function reflect(requests: RequestInit[], version: "v1" | "v1alpha" = "v1"): Promise<ServerReflectionResponse[]> {
  const transport = createGrpcTransport({ baseUrl: server.url });
  async function* input() {
    yield* requests;
  }
  const responses: ServerReflectionResponse[] = [];
  if (version === "v1") {
    for await (const response of createRpcClient(ServerReflection, transport).serverReflectionInfo(input())) responses.push(response);
  } else {
    // v1alpha has the same messages under another package: the init shapes are the same.
    const alpha = createRpcClient(ServerReflectionV1Alpha, transport);
    for await (const response of alpha.serverReflectionInfo(input() as Parameters<typeof alpha.serverReflectionInfo>[0])) {
      responses.push(response as unknown as ServerReflectionResponse);
    }
  }
  return responses;
}

/** The file descriptors of a file_descriptor_response; fails on any other answer. */
function filesOf(response: ServerReflectionResponse | undefined): FileDescriptorProto[] {
  expect(response?.messageResponse.case, JSON.stringify(response?.messageResponse)).toBe("fileDescriptorResponse");
  if (response?.messageResponse.case !== "fileDescriptorResponse") return [];
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
}

/** `files` ordered so every file comes after the files it imports, as a FileDescriptorSet wants. */
function dependenciesFirst(files: FileDescriptorProto[]): FileDescriptorProto[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto | undefined) => {
    if (!file || ordered.includes(file)) return;
    for (const dependency of file.dependency) visit(byName.get(dependency));
    ordered.push(file);
  };
  files.forEach(visit);
  return ordered;
}

function errorOf(response: ServerReflectionResponse | undefined): { errorCode: number; errorMessage: string } | undefined {
  return response?.messageResponse.case === "errorResponse" ? response.messageResponse.value : undefined;
}

beforeAll(async () => {
  server = await startTestServer();
  // A worker declaring a type whose messages only it knows, staying connected.
  declaration = await declareTypes(
    server.url,
    [{ name: "reflection.thing", inputType: "reflectiontest.v1.Thing", outputType: "reflectiontest.v1.Thing" }],
    create(FileDescriptorSetSchema, { file: [file_google_protobuf_descriptor.proto, THING_FILE] }),
  );
});

afterAll(async () => {
  declaration?.close();
  await server?.stop();
});

describe("server reflection", () => {
  it.each(["v1", "v1alpha"] as const)("%s lists every service the server serves", async (version) => {
    const [response] = await reflect([{ host: "example", messageRequest: { case: "listServices", value: "" } }], version);
    expect(response?.validHost).toBe("example");
    expect(response?.originalRequest?.messageRequest.case).toBe("listServices");
    expect(response?.messageResponse.case).toBe("listServicesResponse");
    const names = response?.messageResponse.case === "listServicesResponse" ? response.messageResponse.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual(SERVICES);
  });

  it("answers file_containing_symbol with the file and its transitive dependencies, which build", async () => {
    const [response] = await reflect([{ messageRequest: { case: "fileContainingSymbol", value: "taskwire.v1.TaskService" } }]);
    const files = filesOf(response);
    expect(files[0]?.name).toBe("taskwire/v1/task_service.proto");
    expect(files.map((f) => f.name)).toEqual(
      expect.arrayContaining(["taskwire/v1/task.proto", "google/protobuf/any.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]),
    );
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: dependenciesFirst(files) }));
    expect(registry.getService("taskwire.v1.TaskService")?.methods.map((m) => m.name)).toContain("StreamProgress");
    expect(registry.getMessage("taskwire.v1.Task")?.field.state?.enum?.typeName).toBe("taskwire.v1.TaskState");
  });

  it("resolves methods, nested types, fields and enum values as symbols", async () => {
    const symbols = [
      "taskwire.v1.TaskService.Submit",
      "grpc.health.v1.HealthCheckResponse.ServingStatus",
      "taskwire.v1.SubmitRequest.idempotency_key",
      "taskwire.v1.TASK_STATE_QUEUED",
      ".taskwire.v1.Task",
      "google.rpc.BadRequest",
    ];
    const responses = await reflect(symbols.map((value) => ({ messageRequest: { case: "fileContainingSymbol", value } })));
    expect(responses.map((r) => filesOf(r)[0]?.name)).toEqual([
      "taskwire/v1/task_service.proto",
      "grpc/health/v1/health.proto",
      "taskwire/v1/task_service.proto",
      "taskwire/v1/task.proto",
      "taskwire/v1/task.proto",
      "google/rpc/error_details.proto",
    ]);
  });

  it("answers file_by_filename, for the server's files and the well-known types", async () => {
    const responses = await reflect([
      { messageRequest: { case: "fileByFilename", value: "taskwire/v1/worker_service.proto" } },
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/descriptor.proto" } },
    ]);
    expect(filesOf(responses[0]).map((f) => f.name)).toContain("google/protobuf/descriptor.proto");
    expect(filesOf(responses[1])[0]?.messageType.map((m) => m.name)).toContain("FileDescriptorSet");
  });

  it("answers what it does not know with an error_response NOT_FOUND, and keeps the stream open", async () => {
    const responses = await reflect([
      { messageRequest: { case: "fileContainingSymbol", value: "nope.v1.Missing" } },
      { messageRequest: { case: "fileByFilename", value: "nope/v1/missing.proto" } },
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "google.protobuf.MessageOptions", extensionNumber: 1 } } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "nope.v1.Missing" } },
      { messageRequest: { case: "listServices", value: "" } },
    ]);
    expect(responses.slice(0, 4).map((r) => errorOf(r)?.errorCode)).toEqual([5, 5, 5, 5]);
    expect(errorOf(responses[0])?.errorMessage).toContain("nope.v1.Missing");
    expect(responses[4]?.messageResponse.case).toBe("listServicesResponse");
  });

  it("answers all_extension_numbers_of_type (none for Taskwire's messages)", async () => {
    const [response] = await reflect([{ messageRequest: { case: "allExtensionNumbersOfType", value: "taskwire.v1.Task" } }]);
    expect(response?.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "taskwire.v1.Task", extensionNumber: [] },
    });
  });
});

describe("task types declared by workers", () => {
  it.each(["v1", "v1alpha"] as const)("%s resolves a message only the worker's descriptors define", async (version) => {
    const [response] = await reflect([{ messageRequest: { case: "fileContainingSymbol", value: "reflectiontest.v1.Thing" } }], version);
    const files = filesOf(response);
    expect(files.map((f) => f.name)).toEqual(["reflectiontest/v1/thing.proto", "google/protobuf/descriptor.proto"]);
    expect(files[0]?.messageType[0]?.field.map((f) => f.name)).toEqual(["label", "count"]);
  });

  it("resolves the worker's file by name and its extension", async () => {
    const responses = await reflect([
      { messageRequest: { case: "fileByFilename", value: "reflectiontest/v1/thing.proto" } },
      { messageRequest: { case: "fileContainingExtension", value: { containingType: "google.protobuf.MessageOptions", extensionNumber: 50_001 } } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MessageOptions" } },
      { messageRequest: { case: "fileContainingSymbol", value: "reflectiontest.v1.thing_note" } },
    ]);
    expect(filesOf(responses[0])[0]?.name).toBe("reflectiontest/v1/thing.proto");
    expect(filesOf(responses[1])[0]?.name).toBe("reflectiontest/v1/thing.proto");
    expect(responses[2]?.messageResponse).toMatchObject({ value: { baseTypeName: "google.protobuf.MessageOptions", extensionNumber: [50_001] } });
    expect(filesOf(responses[3])[0]?.name).toBe("reflectiontest/v1/thing.proto");
  });

  it("lets buf curl submit typed JSON for it, @type resolved through reflection", async () => {
    const body = JSON.stringify({
      type: "reflection.thing",
      input: { "@type": "type.googleapis.com/reflectiontest.v1.Thing", label: "from buf curl", count: 3 },
    });
    const address = server.url.replace("http://", "");
    const submitted = await bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", "-d", body, `http://${address}/taskwire.v1.TaskService/Submit`]);
    expect(submitted.code, submitted.stderr).toBe(0);
    const { task } = JSON.parse(submitted.stdout) as { task: { id: string; state: string; input: Record<string, unknown> } };
    expect(task.state).toBe("TASK_STATE_QUEUED");
    // The answer's Any is printed as JSON too: buf curl resolved the worker's message again.
    expect(task.input).toEqual({ "@type": "type.googleapis.com/reflectiontest.v1.Thing", label: "from buf curl", count: 3 });

    const client = createClient({ url: server.url });
    const status = await client.handle(task.id).status();
    client.close();
    expect(status.state).toBe(TaskState.QUEUED);
    expect(status.input?.typeUrl).toBe("type.googleapis.com/reflectiontest.v1.Thing");
  });

  it("lets buf curl submit over v1alpha reflection and the Connect protocol too", async () => {
    const body = JSON.stringify({ type: "reflection.thing", input: { "@type": "type.googleapis.com/reflectiontest.v1.Thing", label: "alpha" } });
    const submitted = await bufCurl(["--protocol", "connect", "--http2-prior-knowledge", "--reflect-protocol", "grpc-v1alpha", "-d", body, `${server.url}/taskwire.v1.TaskService/Submit`]);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(JSON.parse(submitted.stdout)).toMatchObject({ task: { type: "reflection.thing", input: { label: "alpha" } } });
  });
});
