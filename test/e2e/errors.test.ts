/**
 * Rich errors: every refusal carries `google.rpc` details (`ErrorInfo` with the stable reason,
 * `BadRequest` with the fields at fault), readable from a connect-es client, from grpc-js (the
 * `grpc-status-details-bin` trailer, a `google.rpc.Status`) and from plain Connect/JSON. The
 * `UNAVAILABLE` + `RetryInfo` case needs a stopped Redis: see health.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createRegistry, fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { createClient } from "../../src/client/index.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { declareTypes, type Declaration } from "../support/declared-types.js";
import { ROOT, startTestServer, type TestServer } from "../support/server.js";

let server: TestServer;
let declaration: Declaration;

beforeAll(async () => {
  server = await startTestServer();
  declaration = await declareTypes(
    server.url,
    [{ name: "errors.count", inputType: UInt32ValueSchema.typeName, outputType: UInt32ValueSchema.typeName }],
    descriptorSetOf([UInt32ValueSchema]),
  );
});

afterAll(async () => {
  declaration?.close();
  await server?.stop();
});

const structInput = anyPack(StructSchema, fromJson(StructSchema, { n: 1 }));

/** The ConnectError of a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error, "the call should have failed").toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

describe.each([
  ["gRPC", (url: string) => createGrpcTransport({ baseUrl: url })],
  ["Connect", (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" })],
] as const)("details read by a connect-es client over %s", (_protocol, transport) => {
  it("NOT_FOUND for an unknown type carries ErrorInfo, and the taskwire-reason header stays", async () => {
    const client = createClient({ url: server.url, transport: transport(server.url) });
    const error = await refusal(client.submitByName("errors.missing", { a: 1 }));
    client.close();
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ErrorInfoSchema)).toEqual([
      expect.objectContaining({ reason: "TASK_TYPE_NOT_FOUND", domain: "taskwire.dev" }),
    ]);
    expect(error.metadata.get("taskwire-reason")).toBe("TASK_TYPE_NOT_FOUND");
  });

  it("INVALID_ARGUMENT for an input of the wrong type carries BadRequest field violations", async () => {
    const client = createClient({ url: server.url, transport: transport(server.url) });
    const error = await refusal(client.submitByName("errors.count", structInput));
    client.close();
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INPUT_TYPE_MISMATCH");
    const [badRequest] = error.findDetails(BadRequestSchema);
    expect(badRequest?.fieldViolations).toEqual([
      expect.objectContaining({ field: "input", description: "expected type URL type.googleapis.com/google.protobuf.UInt32Value" }),
    ]);
  });

  it("INVALID_ARGUMENT for a malformed id names the field", async () => {
    const client = createClient({ url: server.url, transport: transport(server.url) });
    const error = await refusal(client.handle("not-a-uuid").status());
    client.close();
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["id"]);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INVALID_ARGUMENT");
  });

  it("NOT_FOUND for an unknown task id carries ErrorInfo TASK_NOT_FOUND", async () => {
    const client = createClient({ url: server.url, transport: transport(server.url) });
    const error = await refusal(client.handle("0190f3a4-0000-7000-8000-000000000000").status());
    client.close();
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("TASK_NOT_FOUND");
    expect(error.findDetails(BadRequestSchema)).toEqual([]);
  });
});

describe("details read by grpc-js from grpc-status-details-bin", () => {
  type Submit = (
    request: unknown,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: unknown) => void,
  ) => grpc.ClientUnaryCall;
  let client: grpc.Client & Record<string, unknown>;

  beforeAll(() => {
    const definition = protoLoader.loadSync("taskwire/v1/task_service.proto", { includeDirs: [`${ROOT}proto`] });
    const v1 = ((grpc.loadPackageDefinition(definition)["taskwire"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject);
    const TaskService = v1["TaskService"] as grpc.ServiceClientConstructor;
    client = new TaskService(server.url.replace("http://", ""), grpc.credentials.createInsecure()) as grpc.Client & Record<string, unknown>;
  });

  afterAll(() => client?.close());

  function submit(request: unknown): Promise<grpc.ServiceError> {
    return new Promise((resolve, reject) => {
      (client["Submit"] as Submit).call(client, request, { deadline: Date.now() + 10_000 }, (error) =>
        error ? resolve(error) : reject(new Error("Submit should have failed")),
      );
    });
  }

  /** The google.rpc.Status of the trailer, its details unpacked. */
  function statusOf(error: grpc.ServiceError) {
    const [bytes] = error.metadata.get("grpc-status-details-bin");
    expect(bytes).toBeInstanceOf(Buffer);
    const status = fromBinary(StatusSchema, bytes as Buffer);
    const registry = createRegistry(ErrorInfoSchema, BadRequestSchema);
    return { status, details: status.details.map((any) => anyUnpack(any, registry)) };
  }

  it("INVALID_ARGUMENT: the Status repeats code and message, with ErrorInfo and BadRequest", async () => {
    const error = await submit({
      type: "errors.count",
      // proto-loader keeps Any's proto field name type_url (see grpc-js.test.ts).
      input: { type_url: "type.googleapis.com/google.protobuf.Struct", value: toBinary(StructSchema, fromJson(StructSchema, { n: 1 })) },
    });
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    const { status, details } = statusOf(error);
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.message).toBe(error.details);
    expect(details).toEqual([
      expect.objectContaining({ $typeName: "google.rpc.ErrorInfo", reason: "INPUT_TYPE_MISMATCH", domain: "taskwire.dev" }),
      expect.objectContaining({
        $typeName: "google.rpc.BadRequest",
        fieldViolations: [expect.objectContaining({ field: "input" })],
      }),
    ]);
  });

  it("NOT_FOUND: ErrorInfo with the reason", async () => {
    const error = await submit({ type: "errors.missing" });
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(statusOf(error).details).toEqual([expect.objectContaining({ reason: "TASK_TYPE_NOT_FOUND" })]);
  });
});

describe("details in plain Connect/JSON", () => {
  it("lists each detail with its type, base64 value and readable JSON", async () => {
    const response = await fetch(`${server.url}/taskwire.v1.TaskService/Submit`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "errors.count", input: { "@type": "type.googleapis.com/google.protobuf.Struct", value: {} } }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; details?: { type: string; value: string; debug?: unknown }[] };
    expect(body.code).toBe("invalid_argument");
    expect(body.details?.map((d) => d.type)).toEqual(["google.rpc.ErrorInfo", "google.rpc.BadRequest"]);
    expect(body.details?.[1]?.debug).toMatchObject({ fieldViolations: [{ field: "input" }] });
    const info = fromBinary(ErrorInfoSchema, Buffer.from(body.details?.[0]?.value ?? "", "base64"));
    expect(info.reason).toBe("INPUT_TYPE_MISMATCH");
  });
});
