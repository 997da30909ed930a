/**
 * TLS on the one port, with a self-signed certificate made by `openssl` at test time, and API
 * keys: gRPC over h2 (ALPN) from grpc-js and from the TypeScript client, Connect/JSON and
 * gRPC-Web over HTTP/1.1, `curl --cacert` over both HTTP versions, and a worker process over
 * `https://` trusting the certificate with `--tls-ca`.
 */
import { execFile, spawnSync } from "node:child_process";
import { request as httpsRequest } from "node:https";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { createClient, TaskState } from "../../src/client/index.js";
import { testKey } from "../support/keys.js";
import { eventually, ROOT, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";
import { makeSelfSignedCertificate, type TestCertificate } from "../support/tls.js";

const hasCurl = spawnSync("which", ["curl"]).status === 0;
const execFileAsync = promisify(execFile);

const client = testKey("tls-client", "client");
const workerKey = testKey("tls-worker", "worker");

let certificate: TestCertificate;
let server: TestServer;
let url: string;
let worker: WorkerProcess;

beforeAll(async () => {
  certificate = await makeSelfSignedCertificate();
  server = await startTestServer({
    tlsCert: certificate.certPath,
    tlsKey: certificate.keyPath,
    apiKeys: [client.env, workerKey.env].join(","),
  });
  url = `https://127.0.0.1:${server.server.port}`;
  worker = spawnWorker(url, ["--tls-ca", certificate.certPath, "-H", `authorization: Bearer ${workerKey.token}`]);
  const tasks = createClient({ url, headers: client.headers, ca: certificate.cert });
  await eventually(async () => (await tasks.listTypes()).find((type) => type.name === "test.echo" && type.workerCount > 0), 20_000, "the worker");
  tasks.close();
});

afterAll(async () => {
  worker?.kill();
  await worker?.exited;
  await server?.stop();
  await certificate?.remove();
});

describe("the TypeScript client over https", () => {
  it.each(["grpc", "connect"] as const)("submits and waits over %s, a worker process over https runs the task", async (protocol) => {
    const tasks = createClient({ url, protocol, headers: client.headers, ca: certificate.cert });
    const handle = await tasks.submitByName("test.echo", { over: protocol });
    expect(await handle.result()).toMatchObject({ over: protocol });
    expect((await tasks.getStatus(handle.id)).state).toBe(TaskState.SUCCEEDED);
    tasks.close();
  });

  it("refuses a server whose certificate it does not trust", async () => {
    const tasks = createClient({ url, headers: client.headers });
    const error = await tasks.listTypes().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    tasks.close();
    // connect-node reports the failed handshake with the TLS error's text (and code INTERNAL).
    expect(error?.message).toMatch(/self-signed certificate/);
  });

  it("still needs a key over TLS", async () => {
    const tasks = createClient({ url, ca: certificate.cert });
    const error = await tasks.listTypes().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    tasks.close();
    expect(error?.code).toBe(Code.Unauthenticated);
  });

  it("gRPC-Web over HTTP/1.1", async () => {
    const transport = createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { ca: certificate.cert } });
    const { types } = await createRpcClient(TaskService, transport).listTypes({}, { headers: client.headers });
    expect(types.map((type) => type.name)).toContain("test.echo");
  });
});

describe("grpc-js over TLS", () => {
  it("submits and reads the result with the certificate as its root", async () => {
    const definition = protoLoader.loadSync(["taskwire/v1/task_service.proto"], {
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: [`${ROOT}proto`],
    });
    const loaded = grpc.loadPackageDefinition(definition);
    const Client = ((loaded["taskwire"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject)["TaskService"] as grpc.ServiceClientConstructor;
    const credentials = grpc.credentials.combineChannelCredentials(
      grpc.credentials.createSsl(certificate.cert),
      grpc.credentials.createFromMetadataGenerator((_params, callback) => {
        const metadata = new grpc.Metadata();
        metadata.set("authorization", `Bearer ${client.token}`);
        callback(null, metadata);
      }),
    );
    // By name (the certificate holds DNS:localhost): grpc-js would send an IP address as SNI.
    const stub = new Client(`localhost:${server.server.port}`, credentials) as grpc.Client & Record<string, unknown>;
    const call = <Res>(method: string, request: object) =>
      new Promise<Res>((resolve, reject) => {
        const fn = stub[method] as (r: object, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void;
        fn.call(stub, request, { deadline: Date.now() + 20_000 }, (error, response) => (error ? reject(error) : resolve(response as Res)));
      });
    const input = { type_url: "type.googleapis.com/google.protobuf.Struct", value: toBinary(StructSchema, fromJson(StructSchema, { via: "grpc-js" })) };
    const submitted = await call<{ task: { id: string } }>("Submit", { type: "test.echo", input });
    const { task } = await call<{ task: { state: string; output: { value: Uint8Array } } }>("GetResult", { id: submitted.task.id, wait: { seconds: 20 } });
    expect(task.state).toBe("TASK_STATE_SUCCEEDED");
    expect(toJson(StructSchema, fromBinary(StructSchema, task.output.value))).toMatchObject({ via: "grpc-js" });
    stub.close();
  });
});

describe("Connect/JSON over https", () => {
  it("node:https with the certificate as its CA, over HTTP/1.1", async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        `${url}/taskwire.v1.TaskService/ListTypes`,
        { method: "POST", ca: certificate.cert, headers: { "content-type": "application/json", authorization: `Bearer ${client.token}` } },
        (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk.toString()));
          res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))));
        },
      );
      req.on("error", reject);
      req.end("{}");
    });
    expect((JSON.parse(body) as { types: { name: string }[] }).types.map((type) => type.name)).toContain("test.echo");
  });

  it.skipIf(!hasCurl && process.env.CI !== "true").each(["--http1.1", "--http2"])("curl --cacert %s", async (version) => {
    const { stdout } = await execFileAsync("curl", [
      "--silent", "--show-error", "--fail-with-body", version, "--cacert", certificate.certPath,
      "--header", "content-type: application/json", "--header", `authorization: Bearer ${client.token}`,
      "--data", JSON.stringify({ type: "test.echo", input: { "@type": "type.googleapis.com/google.protobuf.Struct", value: { via: "curl" } } }),
      "--write-out", "\n%{http_version}",
      `${url}/taskwire.v1.TaskService/Submit`,
    ]);
    const [json, httpVersion] = stdout.split("\n");
    expect(httpVersion).toBe(version === "--http2" ? "2" : "1.1");
    const id = (JSON.parse(json ?? "{}") as { task: { id: string } }).task.id;
    const tasks = createClient({ url, headers: client.headers, ca: certificate.cert });
    expect(await tasks.handle(id).result()).toMatchObject({ via: "curl" });
    tasks.close();
  });

  it.skipIf(!hasCurl && process.env.CI !== "true")("curl without the CA refuses the certificate; plain http gets no answer", async () => {
    const refused = await execFileAsync("curl", ["--silent", "--show-error", `${url}/taskwire.v1.TaskService/ListTypes`]).then(
      () => "",
      (error: { stderr: string }) => error.stderr,
    );
    expect(refused).toMatch(/self-signed certificate|certificate verify|SSL certificate problem/);
    const cleartext = await execFileAsync("curl", ["--silent", "--show-error", "--max-time", "5", `http://127.0.0.1:${server.server.port}/`]).then(
      () => "answered",
      () => "refused",
    );
    expect(cleartext).toBe("refused");
  });
});
