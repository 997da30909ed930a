/**
 * Deadlines are the server's too: a call whose `grpc-timeout` (or `connect-timeout-ms`) passes
 * ends with DEADLINE_EXCEEDED, even when the client does not enforce it itself. The requests
 * here are written by hand (node:http2 and fetch) so that only the server can end them;
 * GetResult waits far longer than the deadline, StreamProgress follows a task that never runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  GetResultRequestSchema,
  GetStatusRequestSchema,
  StreamProgressRequestSchema,
} from "../../gen/taskwire/v1/task_service_pb.js";
import { createClient } from "../../src/client/index.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { declareTypes, type Declaration } from "../support/declared-types.js";
import { ROOT, startTestServer, type TestServer } from "../support/server.js";

/** How long GetResult is asked to wait: far past every deadline below. */
const LONG_WAIT_SECONDS = 60n;
/** An answer must come within this long of a deadline. */
const SLACK_MS = 2_000;

let server: TestServer;
let declaration: Declaration;
let session: ClientHttp2Session;
let taskId: string;

beforeAll(async () => {
  server = await startTestServer();
  declaration = await declareTypes(server.url, [{ name: "deadline.never", inputType: StructSchema.typeName, outputType: StructSchema.typeName }], descriptorSetOf([StructSchema]));
  const client = createClient({ url: server.url });
  taskId = (await client.submitByName("deadline.never", { wait: true })).id;
  client.close();
  session = http2Connect(server.url);
});

afterAll(async () => {
  session?.close();
  declaration?.close();
  await server?.stop();
});

/** A gRPC call over raw HTTP/2: all the response bytes, the grpc-status trailer, and the time it took. */
function rawGrpc<D extends DescMessage>(method: string, schema: D, message: MessageInitShape<D>, timeout: string) {
  const started = Date.now();
  const stream = session.request({
    ":method": "POST",
    ":path": `/taskwire.v1.TaskService/${method}`,
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": timeout,
  });
  const body = toBinary(schema, create(schema, message));
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  Buffer.from(body).copy(frame, 5);
  stream.end(frame);
  let bytes = 0;
  stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
  return new Promise<{ status: string | undefined; message: string | undefined; bytes: number; ms: number }>((resolve, reject) => {
    let status: string | undefined;
    let text: string | undefined;
    const take = (headers: Record<string, unknown>) => {
      status ??= headers["grpc-status"] as string | undefined;
      text ??= headers["grpc-message"] as string | undefined;
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("error", reject);
    stream.on("close", () => resolve({ status, message: text, bytes, ms: Date.now() - started }));
  });
}

describe("grpc-timeout, enforced by the server", () => {
  it("GetResult with a long wait ends with DEADLINE_EXCEEDED at the deadline", async () => {
    const result = await rawGrpc("GetResult", GetResultRequestSchema, { id: taskId, wait: { seconds: LONG_WAIT_SECONDS } }, "400m");
    expect(result.status).toBe("4");
    expect(result.ms).toBeGreaterThanOrEqual(350);
    expect(result.ms).toBeLessThan(400 + SLACK_MS);
  });

  it("StreamProgress ends with DEADLINE_EXCEEDED at the deadline, after the current state", async () => {
    const result = await rawGrpc("StreamProgress", StreamProgressRequestSchema, { id: taskId }, "400m");
    expect(result.status).toBe("4");
    expect(result.bytes).toBeGreaterThan(0); // the task's current state came first
    expect(result.ms).toBeLessThan(400 + SLACK_MS);
  });

  it("a quick call within its deadline succeeds", async () => {
    const result = await rawGrpc("GetStatus", GetStatusRequestSchema, { id: taskId }, "5S");
    expect(result.status).toBe("0");
  });
});

describe("connect-timeout-ms, enforced by the server", () => {
  it("GetResult over Connect/JSON answers 504 deadline_exceeded", async () => {
    const started = Date.now();
    const response = await fetch(`${server.url}/taskwire.v1.TaskService/GetResult`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Connect-Timeout-Ms": "400" },
      body: JSON.stringify({ id: taskId, wait: "60s" }),
    });
    expect(((await response.json()) as { code: string }).code).toBe("deadline_exceeded");
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(400 + SLACK_MS);
  });
});

describe("grpc-js deadlines", () => {
  it("GetResult with a long wait and a short deadline fails with DEADLINE_EXCEEDED", async () => {
    const definition = protoLoader.loadSync("taskwire/v1/task_service.proto", { includeDirs: [`${ROOT}proto`] });
    const v1 = (grpc.loadPackageDefinition(definition)["taskwire"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject;
    const TaskService = v1["TaskService"] as grpc.ServiceClientConstructor;
    const client = new TaskService(server.url.replace("http://", ""), grpc.credentials.createInsecure()) as grpc.Client & Record<string, unknown>;
    type GetResult = (request: unknown, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null) => void) => void;
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      (client["GetResult"] as GetResult).call(client, { id: taskId, wait: { seconds: 60 } }, { deadline: Date.now() + 400 }, resolve);
    });
    client.close();
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});
