/**
 * The calls without side effects over plain HTTP GET (`idempotency_level = NO_SIDE_EFFECTS`):
 * `curl .../GetStatus?encoding=json&message=...` works, the writes stay POST-only, and the
 * client's Connect protocol sends its reads as GET.
 */
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { createClient, type TaskwireClient } from "../../src/client/index.js";
import { BACKENDS, spawnWorker, startTestServer, eventually, type TestServer, type WorkerProcess } from "../support/server.js";

/** `GET <url>/<service>/<method>?encoding=json&message=<json>` */
function getUrl(base: string, path: string, message: unknown): string {
  return `${base}/${path}?encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`;
}

describe("the reads are marked NO_SIDE_EFFECTS", () => {
  it("in the contracts: GetStatus, ListTypes, ListTasks and the admin views, and no write", () => {
    const marked = [...TaskService.methods, ...AdminService.methods]
      .filter((method) => method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS)
      .map((method) => method.name)
      .sort();
    expect(marked).toEqual([
      "CountTasks",
      "ExplainTask",
      "GetCaller",
      "GetOverview",
      "GetQueue",
      "GetStatus",
      "GetTaskLogs",
      "GetTaskType",
      "GetWorker",
      "ListLimits",
      "ListQueues",
      "ListServers",
      "ListTasks",
      "ListTypes",
      "ListWorkers",
    ]);
  });
});

describe.each(BACKENDS)("plain HTTP GET (%s)", (backend) => {
  let server: TestServer;
  let worker: WorkerProcess;
  let client: TaskwireClient;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    worker = spawnWorker(server.url);
    client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((type) => type.name === "test.echo" && type.workerCount > 0), 60_000, "the worker");
  }, 120_000);

  afterAll(async () => {
    client.close();
    worker.kill("SIGTERM");
    await worker.exited;
    await server.stop();
  });

  it("answers GetStatus, ListTypes, ListTasks and CountTasks as curl asks them", async () => {
    const handle = await client.submitByName("test.echo", { via: "get" });
    await handle.wait();

    const status = await fetch(getUrl(server.url, "taskwire.v1.TaskService/GetStatus", { id: handle.id }));
    expect(status.status).toBe(200);
    expect(status.headers.get("content-type")).toBe("application/json");
    const body = (await status.json()) as { task: { id: string; state: string } };
    expect(body.task).toMatchObject({ id: handle.id, state: "TASK_STATE_SUCCEEDED" });

    const types = (await (await fetch(getUrl(server.url, "taskwire.v1.TaskService/ListTypes", {}))).json()) as { types: { name: string }[] };
    expect(types.types.map((type) => type.name)).toContain("test.echo");

    const list = (await (await fetch(getUrl(server.url, "taskwire.v1.TaskService/ListTasks", { type: "test.echo" }))).json()) as { tasks: { id: string }[] };
    expect(list.tasks.map((task) => task.id)).toContain(handle.id);

    const counts = await fetch(getUrl(server.url, "taskwire.v1.AdminService/CountTasks", { selector: { type: "test.echo" } }));
    expect(counts.status).toBe(200);
  });

  it("keeps the calls with side effects POST-only", async () => {
    const submit = await fetch(getUrl(server.url, "taskwire.v1.TaskService/Submit", { type: "test.echo" }));
    expect(submit.status).not.toBe(200);
    const cancel = await fetch(getUrl(server.url, "taskwire.v1.TaskService/Cancel", { id: "01a20353-a6f5-772f-85bf-3898c107de68" }));
    expect(cancel.status).not.toBe(200);
  });

  it("is what the client's Connect protocol uses for its reads", async () => {
    const methods: string[] = [];
    const proxy = await recordingProxy(server.url, (message) => methods.push(`${message.method} ${message.url?.split("?")[0]}`));
    const connect = createClient({ url: proxy.url, protocol: "connect" });
    try {
      const handle = await connect.submitByName("test.echo", { via: "connect" });
      await connect.getStatus(handle.id);
      await connect.listTypes();
      await connect.listTasks({ type: "test.echo" });
      await connect.cancel(handle.id).catch(() => undefined);
    } finally {
      connect.close();
      await proxy.close();
    }
    expect(methods).toEqual([
      "POST /taskwire.v1.TaskService/Submit",
      "GET /taskwire.v1.TaskService/GetStatus",
      "GET /taskwire.v1.TaskService/ListTypes",
      "GET /taskwire.v1.TaskService/ListTasks",
      "POST /taskwire.v1.TaskService/Cancel",
    ]);
  });
});

/** An HTTP/1.1 proxy to `target` that tells `seen` about each request. */
async function recordingProxy(target: string, seen: (message: IncomingMessage) => void): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const proxy: Server = createServer((incoming, outgoing) => {
    seen(incoming);
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  };
}
