/**
 * The Connect protocol with JSON over HTTP/1.1, as `curl` sends it: plain `fetch` with
 * proto3 JSON bodies (no generated code, no Connect client), the server-streaming call framed
 * by hand, and one request through the real `curl` binary.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

// Proto3 JSON shapes (camelCase names, enums by name, int64 as strings, Timestamp and Duration
// as strings, default values left out). Only the fields these tests read are declared.
interface AnyJson {
  "@type": string;
  value?: unknown;
  [field: string]: unknown;
}
interface ProgressJson {
  percent?: number;
  message?: string;
  current?: string;
  total?: string;
}
interface TaskJson {
  id: string;
  type: string;
  queue: string;
  priority?: number;
  state: string;
  input?: AnyJson;
  output?: AnyJson;
  error?: { attempt?: number; kind?: string; message?: string };
  attempt?: number;
  maxAttempts?: number;
  progress?: ProgressJson;
  createTime?: string;
  scheduleTime?: string;
  finishTime?: string;
  transitions?: { state: string; attempt?: number; time: string }[];
}
interface StreamEventJson {
  taskId: string;
  state: string;
  attempt?: number;
  progress?: ProgressJson;
  output?: AnyJson;
  time: string;
}
interface ConnectErrorJson {
  code: string;
  message?: string;
  details?: { type: string; value: string; debug?: unknown }[];
}

const SERVICE = "taskwire.v1.TaskService";
const hasCurl = spawnSync("which", ["curl"]).status === 0;
const execFileAsync = promisify(execFile);

let server: TestServer;
let worker: WorkerProcess;

/** A unary Connect call with a JSON body: the answer's HTTP status, headers and parsed JSON. */
async function post<T = unknown>(method: string, body: unknown): Promise<{ status: number; headers: Headers; json: T }> {
  const response = await fetch(`${server.url}/${SERVICE}/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: JSON.parse(text) as T };
}

/** A unary call that must succeed. */
async function ok<T>(method: string, body: unknown): Promise<T> {
  const { status, json } = await post<T>(method, body);
  expect(status, `${method} answered ${JSON.stringify(json)}`).toBe(200);
  return json;
}

const structInput = (value: Record<string, unknown>): AnyJson => ({ "@type": "type.googleapis.com/google.protobuf.Struct", value });

/** GetResult waiting (on the server) for a terminal state. */
async function result(id: string): Promise<TaskJson> {
  return (await ok<{ task: TaskJson }>("GetResult", { id, wait: "20s" })).task;
}

/** One Connect envelope: 1 byte of flags, a 4-byte big-endian length, then the JSON. */
function envelope(flags: number, message: unknown): Buffer {
  const data = Buffer.from(JSON.stringify(message), "utf8");
  const frame = Buffer.alloc(5 + data.length);
  frame.writeUInt8(flags, 0);
  frame.writeUInt32BE(data.length, 1);
  data.copy(frame, 5);
  return frame;
}

interface Envelope {
  flags: number;
  json: unknown;
}

/** Splits a whole response body into its envelopes; fails on a truncated frame. */
function parseEnvelopes(body: Buffer): Envelope[] {
  const envelopes: Envelope[] = [];
  let offset = 0;
  while (offset < body.length) {
    expect(body.length - offset, "a truncated envelope header").toBeGreaterThanOrEqual(5);
    const flags = body.readUInt8(offset);
    const length = body.readUInt32BE(offset + 1);
    expect(body.length - offset - 5, "a truncated envelope").toBeGreaterThanOrEqual(length);
    envelopes.push({ flags, json: JSON.parse(body.subarray(offset + 5, offset + 5 + length).toString("utf8")) });
    offset += 5 + length;
  }
  return envelopes;
}

/** A Connect server-streaming call with JSON: the messages, and the end-stream envelope's JSON. */
async function serverStream<T>(method: string, request: unknown): Promise<{ contentType: string | null; messages: T[]; end: { error?: ConnectErrorJson; metadata?: Record<string, string[]> } }> {
  const response = await fetch(`${server.url}/${SERVICE}/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/connect+json" },
    body: envelope(0, request),
  });
  expect(response.status).toBe(200);
  // arrayBuffer() resolves once the server has ended the stream.
  const envelopes = parseEnvelopes(Buffer.from(await response.arrayBuffer()));
  const last = envelopes.at(-1);
  expect(last?.flags, "the stream must end with an end-stream envelope (flags 0x02)").toBe(0x02);
  const messages = envelopes.slice(0, -1);
  expect(messages.map((e) => e.flags).filter((f) => f !== 0)).toEqual([]);
  return {
    contentType: response.headers.get("content-type"),
    messages: messages.map((e) => e.json as T),
    end: last?.json as { error?: ConnectErrorJson; metadata?: Record<string, string[]> },
  };
}

beforeAll(async () => {
  server = await startTestServer();
  worker = spawnWorker(server.url, ["--concurrency", "8"]);
  await eventually(
    async () => (await ok<{ types?: { workerCount?: number }[] }>("ListTypes", {})).types?.some((t) => (t.workerCount ?? 0) > 0),
    20_000,
    "the worker to connect",
  );
});

afterAll(async () => {
  worker?.kill("SIGTERM");
  await worker?.exited;
  await server?.stop();
});

describe("Connect/JSON unary calls over HTTP/1.1", () => {
  it("ListTypes: the fixture types with their messages and worker count", async () => {
    const { types } = await ok<{ types: { name: string; inputType: string; outputType: string; workerCount?: number }[] }>("ListTypes", {});
    expect(types.map((t) => t.name)).toEqual(expect.arrayContaining(["test.echo", "test.factorial", "test.sleep"]));
    expect(types.find((t) => t.name === "test.factorial")).toMatchObject({
      inputType: "google.protobuf.UInt32Value",
      outputType: "google.protobuf.StringValue",
      workerCount: 1,
    });
  });

  it("Submit + GetStatus + GetResult: a JSON task, input and output as JSON inside the Any", async () => {
    const submitted = await post<{ task: TaskJson; existing?: boolean }>("Submit", {
      type: "test.echo",
      input: { "@type": "type.googleapis.com/google.protobuf.Struct", value: { hello: "curl" } },
    });
    expect(submitted.status).toBe(200);
    expect(submitted.headers.get("content-type")).toMatch(/^application\/json/);
    const { task } = submitted.json;
    expect(submitted.json.existing).toBeUndefined();
    expect(task).toMatchObject({
      type: "test.echo",
      queue: "default",
      state: "TASK_STATE_QUEUED",
      input: { "@type": "type.googleapis.com/google.protobuf.Struct", value: { hello: "curl" } },
    });
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(Number.isNaN(Date.parse(task.createTime ?? ""))).toBe(false);

    const status = (await ok<{ task: TaskJson }>("GetStatus", { id: task.id })).task;
    expect(status.id).toBe(task.id);
    expect(["TASK_STATE_QUEUED", "TASK_STATE_RUNNING", "TASK_STATE_SUCCEEDED"]).toContain(status.state);

    const done = (await ok<{ task: TaskJson }>("GetResult", { id: task.id, wait: "10s" })).task;
    expect(done.state).toBe("TASK_STATE_SUCCEEDED");
    expect(done.attempt).toBe(1);
    expect(done.output).toEqual({
      "@type": "type.googleapis.com/google.protobuf.Struct",
      value: { hello: "curl", attempt: 1, taskId: task.id },
    });
    expect(done.transitions?.map((t) => t.state)).toEqual(["TASK_STATE_QUEUED", "TASK_STATE_RUNNING", "TASK_STATE_SUCCEEDED"]);
    expect((await ok<{ task: TaskJson }>("GetStatus", { id: task.id })).task.state).toBe("TASK_STATE_SUCCEEDED");
  });

  it("Submit + GetResult: a typed task, UInt32Value in and StringValue out as JSON", async () => {
    const { task } = await ok<{ task: TaskJson }>("Submit", {
      type: "test.factorial",
      input: { "@type": "type.googleapis.com/google.protobuf.UInt32Value", value: 10 },
    });
    expect(task.input).toEqual({ "@type": "type.googleapis.com/google.protobuf.UInt32Value", value: 10 });
    const done = (await ok<{ task: TaskJson }>("GetResult", { id: task.id, wait: "10s" })).task;
    expect(done.state).toBe("TASK_STATE_SUCCEEDED");
    expect(done.output).toEqual({ "@type": "type.googleapis.com/google.protobuf.StringValue", value: "3628800" });
  });

  it("SubmitBatch: many tasks in one call, answered in order", async () => {
    const { tasks } = await ok<{ tasks: { id: string; state: string; existing?: boolean }[] }>("SubmitBatch", {
      tasks: [
        { type: "test.echo", input: structInput({ i: 0 }) },
        { type: "test.factorial", input: { "@type": "type.googleapis.com/google.protobuf.UInt32Value", value: 5 } },
      ],
    });
    expect(tasks.map((t) => t.state)).toEqual(["TASK_STATE_QUEUED", "TASK_STATE_QUEUED"]);
    const [echo, factorial] = await Promise.all(tasks.map((t) => result(t.id)));
    expect(echo?.output?.value).toMatchObject({ i: 0 });
    expect(factorial?.output).toEqual({ "@type": "type.googleapis.com/google.protobuf.StringValue", value: "120" });
  });

  it("ListTasks: a state filter and the total count (int64 as a JSON string)", async () => {
    // No worker serves this queue, so its tasks stay QUEUED.
    const queue = "connect-json-listing";
    const { tasks: submitted } = await ok<{ tasks: { id: string }[] }>("SubmitBatch", {
      tasks: [0, 1, 2].map((i) => ({ type: "test.echo", input: structInput({ i }), queue })),
    });
    const page = await ok<{ tasks: TaskJson[]; totalCount: string; nextPageToken?: string }>("ListTasks", {
      states: ["TASK_STATE_QUEUED"],
      queue,
    });
    expect(page.totalCount).toBe("3");
    expect(page.tasks.map((t) => t.id)).toEqual(submitted.map((t) => t.id).reverse());
    expect(page.nextPageToken).toBeUndefined();

    const paged = await ok<{ tasks: TaskJson[]; totalCount: string; nextPageToken?: string }>("ListTasks", { queue, pageSize: 2 });
    expect(paged.totalCount).toBe("3");
    expect(paged.tasks).toHaveLength(2);
    const rest = await ok<{ tasks: TaskJson[] }>("ListTasks", { queue, pageSize: 2, pageToken: paged.nextPageToken });
    expect(rest.tasks.map((t) => t.id)).toEqual([submitted[0]?.id]);

    const none = await ok<{ tasks?: TaskJson[]; totalCount?: string }>("ListTasks", { states: ["TASK_STATE_SUCCEEDED"], queue });
    expect(none.tasks ?? []).toEqual([]);
    // proto3 JSON leaves out a zero int64.
    expect(none.totalCount ?? "0").toBe("0");
  });

  it("Cancel: a delayed task ends CANCELLED", async () => {
    const { task } = await ok<{ task: TaskJson }>("Submit", { type: "test.echo", input: structInput({}), delay: "60s" });
    expect(task.state).toBe("TASK_STATE_SCHEDULED");
    expect(Date.parse(task.scheduleTime ?? "")).toBeGreaterThan(Date.parse(task.createTime ?? ""));
    const cancelled = (await ok<{ task: TaskJson }>("Cancel", { id: task.id, reason: "curl says no" })).task;
    expect(cancelled.state).toBe("TASK_STATE_CANCELLED");
    expect((await ok<{ task: TaskJson }>("GetStatus", { id: task.id })).task.state).toBe("TASK_STATE_CANCELLED");
  });

  it("Cancel: a finished task is refused with HTTP 400 and failed_precondition", async () => {
    const { task } = await ok<{ task: TaskJson }>("Submit", { type: "test.echo", input: structInput({}) });
    expect((await result(task.id)).state).toBe("TASK_STATE_SUCCEEDED");
    const refused = await post<ConnectErrorJson>("Cancel", { id: task.id });
    expect(refused.status).toBe(400);
    expect(refused.json.code).toBe("failed_precondition");
    expect(refused.json.message).toBe(`task ${task.id} already finished (SUCCEEDED); it cannot be cancelled`);
    expect(refused.headers.get("taskwire-reason")).toBe("TASK_FINISHED");
  });
});

describe("Connect/JSON errors", () => {
  it("an unknown task type: HTTP 404 with {code: not_found, message}", async () => {
    const { status, headers, json } = await post<ConnectErrorJson>("Submit", { type: "no.such.type", input: structInput({}) });
    expect(status).toBe(404);
    expect(headers.get("content-type")).toMatch(/^application\/json/);
    expect(json.code).toBe("not_found");
    expect(json.message).toContain('task type "no.such.type" is not known: no worker has declared it');
    expect(headers.get("taskwire-reason")).toBe("TASK_TYPE_NOT_FOUND");
  });

  it("an input of the wrong type: HTTP 400 invalid_argument saying what was expected", async () => {
    const { status, json } = await post<ConnectErrorJson>("Submit", {
      type: "test.factorial",
      input: structInput({ value: 3 }),
    });
    expect(status).toBe(400);
    expect(json).toMatchObject({
      code: "invalid_argument",
      message: 'input: task type "test.factorial" takes google.protobuf.UInt32Value, got google.protobuf.Struct',
    });
    // The google.rpc details (errors.test.ts), with their JSON under "debug" for people reading it.
    expect(json.details?.map((d) => d.type)).toEqual(["google.rpc.ErrorInfo", "google.rpc.BadRequest"]);
    expect(json.details?.[0]?.debug).toEqual({ reason: "INPUT_TYPE_MISMATCH", domain: "taskwire.dev" });
  });

  it("an unknown id: HTTP 404; a malformed id: HTTP 400", async () => {
    const missing = await post<ConnectErrorJson>("GetStatus", { id: "01890000-0000-7000-8000-000000000000" });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: "not_found", message: "task 01890000-0000-7000-8000-000000000000 does not exist" });
    const malformed = await post<ConnectErrorJson>("GetStatus", { id: "not-a-uuid" });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ code: "invalid_argument", message: 'id: "not-a-uuid" is not a task id (a UUID)' });
  });

  it("a body that is not JSON of the request: HTTP 400 invalid_argument", async () => {
    const response = await fetch(`${server.url}/${SERVICE}/Submit`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"type": "test.echo", "input": ',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as ConnectErrorJson).code).toBe("invalid_argument");
  });
});

describe("Connect/JSON server streaming (application/connect+json)", () => {
  it("StreamProgress: the current state, then progress, then SUCCEEDED, then end-stream", async () => {
    const { task } = await ok<{ task: TaskJson }>("Submit", { type: "test.sleep", input: structInput({ ms: 600, steps: 3 }) });
    const { contentType, messages, end } = await serverStream<StreamEventJson>("StreamProgress", { id: task.id });
    expect(contentType).toMatch(/^application\/connect\+json/);
    expect(end.error).toBeUndefined();
    expect(messages.every((m) => m.taskId === task.id)).toBe(true);

    expect(["TASK_STATE_QUEUED", "TASK_STATE_RUNNING"]).toContain(messages[0]?.state);

    const steps = messages.filter((m) => m.state === "TASK_STATE_RUNNING" && m.progress?.message);
    expect(steps.map((m) => m.progress?.message)).toEqual(expect.arrayContaining(["step 1 of 3", "step 2 of 3", "step 3 of 3"]));
    expect(steps.map((m) => Math.round(m.progress?.percent ?? -1))).toEqual(expect.arrayContaining([33, 67, 100]));
    expect(steps.find((m) => m.progress?.message === "step 3 of 3")?.progress).toMatchObject({ current: "3", total: "3" });

    const last = messages.at(-1);
    expect(last?.state).toBe("TASK_STATE_SUCCEEDED");
    expect(last?.output).toMatchObject({ "@type": "type.googleapis.com/google.protobuf.Struct", value: { slept: 600 } });
    expect(messages.filter((m) => m.state === "TASK_STATE_SUCCEEDED")).toHaveLength(1);
  });

  it("StreamProgress of an unknown task: the end-stream envelope carries not_found", async () => {
    const { messages, end } = await serverStream<StreamEventJson>("StreamProgress", { id: "01890000-0000-7000-8000-000000000000" });
    expect(messages).toEqual([]);
    expect(end.error).toMatchObject({ code: "not_found", message: "task 01890000-0000-7000-8000-000000000000 does not exist" });
  });
});

describe("the real curl", () => {
  const title = "submits a task with curl -X POST -H 'Content-Type: application/json'";
  it.skipIf(!hasCurl)(hasCurl ? title : `${title} (skipped: no curl on this machine, \`which curl\` failed)`, async () => {
    const body = JSON.stringify({
      type: "test.echo",
      input: { "@type": "type.googleapis.com/google.protobuf.Struct", value: { hello: "curl", from: "the shell" } },
    });
    const { stdout } = await execFileAsync("curl", [
      "-sS",
      "--noproxy",
      "*",
      "-X",
      "POST",
      "-H",
      "Content-Type: application/json",
      "-d",
      body,
      `${server.url}/${SERVICE}/Submit`,
    ]);
    const { task } = JSON.parse(stdout) as { task: TaskJson };
    expect(task).toMatchObject({
      type: "test.echo",
      state: "TASK_STATE_QUEUED",
      input: { "@type": "type.googleapis.com/google.protobuf.Struct", value: { hello: "curl", from: "the shell" } },
    });
    const done = await result(task.id);
    expect(done.output?.value).toEqual({ hello: "curl", from: "the shell", attempt: 1, taskId: task.id });
  });
});
