/**
 * API keys are checked from the headers, before any of a request's body is read (issue 15,
 * security item 3): a call without a key (or with a key whose role may not make it) is answered
 * while its client is still sending the body, in every protocol, and a garbage body without a key
 * is UNAUTHENTICATED, not INTERNAL. Before, the server read and parsed up to
 * `TASKWIRE_MAX_MESSAGE_BYTES` (8 MiB) of every unauthenticated call first.
 *
 * Each partial request declares a body of 8 MB and sends 1 KB of it, then waits for the answer
 * without ever ending the request: only a server that answers from the headers can answer.
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import { request as http1Request, type IncomingMessage } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testKey, writeKeysFile } from "../support/keys.js";
import { startTestServer, type TestServer } from "../support/server.js";

const alice = testKey("alice", "client");
const worker = testKey("gate-worker", "worker");
/** What the partial requests say they will send. */
const DECLARED_BYTES = 8_000_000;

let dir: string;
let server: TestServer;
let session: ClientHttp2Session;

/** A gRPC envelope header announcing a message of `length` bytes. */
function envelopeHeader(length: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(length, 1);
  return header;
}

/**
 * Opens an HTTP/2 request, writes `body` without ending it, and resolves with the response
 * headers and the trailers (or the headers again, for a trailers-only answer) once the server
 * ended the response.
 */
function http2Partial(path: string, headers: OutgoingHttpHeaders, body: Buffer): Promise<{ headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: "POST", [constants.HTTP2_HEADER_PATH]: path, ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on("response", (received) => (responseHeaders = received));
    stream.on("trailers", (received) => (trailers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      resolve({ headers: responseHeaders, trailers: trailers ?? responseHeaders, body: Buffer.concat(chunks) });
      stream.close();
    });
    stream.on("error", reject);
    stream.write(body);
  });
}

/** Sends a Connect request over HTTP/1.1 declaring `contentLength` bytes, writes `body`, ends it only when `end`. */
function http1Call(path: string, headers: Record<string, string | number>, body: Buffer, end: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, server.url);
    const request = http1Request({ method: "POST", hostname: url.hostname, port: url.port, path: url.pathname, headers });
    request.on("response", (response: IncomingMessage) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => {
        resolve({ status: response.statusCode ?? 0, body: text });
        request.destroy();
      });
    });
    request.on("error", (error) => {
      if ((error as NodeJS.ErrnoException).code !== "ECONNRESET") reject(error);
    });
    request.write(body);
    if (end) request.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskwire-gate-"));
  server = await startTestServer({ apiKeysFile: await writeKeysFile(join(dir, "keys.txt"), [alice, worker]) });
  session = connect(server.url);
}, 60_000);

afterAll(async () => {
  session?.destroy();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("keys are checked before the body is read", () => {
  const partial = Buffer.concat([envelopeHeader(DECLARED_BYTES), Buffer.alloc(1024, 7)]);

  it("answers a gRPC call without a key UNAUTHENTICATED while its body is still coming", async () => {
    const answer = await http2Partial("/taskwire.v1.TaskService/Submit", { "content-type": "application/grpc", te: "trailers" }, partial);
    expect(answer.trailers["grpc-status"]).toBe("16");
    expect(answer.trailers["grpc-message"]).toContain("missing API key");
  });

  it("answers a key whose role may not make the call PERMISSION_DENIED, as early", async () => {
    const answer = await http2Partial(
      "/taskwire.v1.TaskService/SubmitBatch",
      { "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${worker.token}` },
      partial,
    );
    expect(answer.trailers["grpc-status"]).toBe("7");
    expect(answer.trailers["grpc-message"]).toContain('API key "gate-worker" has role worker, which may not call taskwire.v1.TaskService/SubmitBatch');
  });

  it("answers gRPC-Web and streaming calls the same way", async () => {
    const web = await http2Partial("/taskwire.v1.TaskService/Submit", { "content-type": "application/grpc-web+proto" }, partial);
    // gRPC-Web carries the status in a trailer frame of the body, or in the headers.
    expect(`${String(web.headers["grpc-status"] ?? "")}${web.body.toString("latin1")}`).toMatch(/grpc-status:? ?16/);
    const stream = await http2Partial("/taskwire.v1.WorkerService/Connect", { "content-type": "application/grpc", te: "trailers" }, partial);
    expect(stream.trailers["grpc-status"]).toBe("16");
  });

  it("answers Connect over HTTP/1.1 with 401 while its body is still coming", async () => {
    const answer = await http1Call(
      "/taskwire.v1.TaskService/Submit",
      { "content-type": "application/json", "content-length": DECLARED_BYTES },
      Buffer.alloc(1024, 0x20),
      false,
    );
    expect(answer, answer.body).toMatchObject({ status: 401 });
    expect(JSON.parse(answer.body)).toMatchObject({ code: "unauthenticated", message: expect.stringContaining("missing API key") as string });
  });

  it("answers a garbage body without a key UNAUTHENTICATED, not INTERNAL", async () => {
    const garbage = Buffer.from("\u0000\u0000\u0000\u0000\u0009not proto");
    const grpc = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": "/taskwire.v1.TaskService/Submit", "content-type": "application/grpc", te: "trailers" });
      let headers: IncomingHttpHeaders = {};
      stream.on("response", (received) => (headers = received));
      stream.on("trailers", (received) => resolve(received));
      stream.on("end", () => resolve(headers));
      stream.on("error", reject);
      stream.resume();
      stream.end(garbage);
    });
    expect(grpc["grpc-status"]).toBe("16");
    const json = await http1Call("/taskwire.v1.TaskService/Submit", { "content-type": "application/json" }, Buffer.from("{not json"), true);
    expect(json.status).toBe(401);
  });

  it("answers a Connect GET without a key 401 too (its message is in the query)", async () => {
    const message = encodeURIComponent(JSON.stringify({ id: "01900000-0000-7000-8000-000000000000" }));
    const get = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL(`/taskwire.v1.TaskService/GetStatus?connect=v1&encoding=json&message=${message}`, server.url);
        http1Request({ method: "GET", hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, headers }, (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
        })
          .on("error", reject)
          .end();
      });
    const refused = await get({});
    expect(refused, refused.body).toMatchObject({ status: 401 });
    expect(JSON.parse(refused.body)).toMatchObject({ code: "unauthenticated" });
    // With a key, the query's message is read: the task does not exist.
    const found = await get(alice.headers);
    expect(JSON.parse(found.body)).toMatchObject({ code: "not_found", message: "task 01900000-0000-7000-8000-000000000000 does not exist" });
  });

  it("still serves the same calls with a key", async () => {
    const json = await http1Call(
      "/taskwire.v1.TaskService/ListTypes",
      { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
      Buffer.from("{}"),
      true,
    );
    expect(json.status).toBe(200);
    expect(JSON.parse(json.body)).toEqual({});
  });
});
