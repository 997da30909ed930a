/**
 * What the dashboard stands on, on both back ends: its files served at `/` (content types,
 * caching, compression, revalidation, security headers, never in the way of an RPC or of
 * `/metrics`), the not-built page and `--dashboard off`, the first-load size budget, and the
 * RPCs it added for every client: `GetTaskType` (a type with its descriptors), `GetOverview`
 * (per-minute counters) and `GetCaller` (role and permissions, with and without keys).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createFileRegistry } from "@bufbuild/protobuf";
import { anyPack, durationMs, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState, type Task } from "../../gen/taskwire/v1/task_pb.js";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { create } from "@bufbuild/protobuf";
import { defaultDashboardDir } from "../../src/server/transport/dashboard-route.js";
import { buildDashboard, firstLoad, type DashboardBuild } from "../support/dashboard.js";
import { testKey } from "../support/keys.js";
import { BACKENDS, eventually, ROOT, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";
import { ReportRequestSchema } from "../fixtures/dashboard-tasks.js";

const WORKER_ARGS = ["--tasks", "test/fixtures/dashboard-tasks.ts", "--queues", "default,dash-paused"];
/** The first load's budget (gzip), as the README says. */
const BUDGET_BYTES = 300 * 1024;

let ui: DashboardBuild;
beforeAll(async () => {
  ui = await buildDashboard();
}, 120_000);
afterAll(() => ui?.remove());

function clients(url: string, headers: Record<string, string> = {}) {
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    useBinaryFormat: true,
    interceptors: [(next) => (req) => {
      for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
      return next(req);
    }],
  });
  return { tasks: createClient(TaskService, transport), admin: createClient(AdminService, transport) };
}

async function get(url: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(url, { method, headers });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

it("fits the first load in the size budget (gzip)", async () => {
  const files = await firstLoad(ui.dir);
  const total = files.reduce((sum, f) => sum + f.gzipBytes, 0);
  expect(files.some((f) => f.file.endsWith(".js"))).toBe(true);
  expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
});

it("is found in the package by default (ui/dist, where npm run build:ui writes it)", () => {
  expect(defaultDashboardDir()).toBe(join(ROOT, "ui", "dist"));
});

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let worker: WorkerProcess;
  let api: { tasks: Client<typeof TaskService>; admin: Client<typeof AdminService> };

  beforeAll(async () => {
    server = await startTestServer({ dashboardDir: ui.dir }, undefined, backend);
    worker = spawnWorker(server.url, WORKER_ARGS);
    api = clients(server.url);
    await eventually(async () => (await api.tasks.listTypes({})).types.some((t) => t.name === "dashboard.report" && t.workerCount > 0), 60_000, "the worker");
  }, 120_000);
  afterAll(async () => {
    worker?.kill();
    await worker?.exited;
    await server?.stop();
  });

  it("serves index.html at / with its headers, revalidation and gzip", async () => {
    const page = await get(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.body.toString()).toBe(await readFile(join(ui.dir, "index.html"), "utf8"));
    const etag = page.headers.get("etag") ?? "";
    expect(etag).toMatch(/^".+"$/);
    expect((await get(`${server.url}/`, { "if-none-match": etag })).status).toBe(304);
    expect((await get(`${server.url}/index.html`)).body.equals(page.body)).toBe(true);
    const head = await get(`${server.url}/`, {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it("serves hashed assets with their content types, cached for a year, compressed when asked", async () => {
    const html = (await get(`${server.url}/`)).body.toString();
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="\.\/(assets\/[^"]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${server.url}/${script}`, { headers: { "accept-encoding": "identity" } });
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const plain = Buffer.from(await js.arrayBuffer());
    expect(plain.equals(await readFile(join(ui.dir, script as string)))).toBe(true);
    // Raw bytes over node:http: fetch would undo the compression itself.
    const { request } = await import("node:http");
    const gz = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      request(`${server.url}/${script}`, { headers: { "accept-encoding": "gzip, br" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ encoding: res.headers["content-encoding"], body: Buffer.concat(chunks) }));
      }).on("error", reject).end();
    });
    expect(gz.encoding).toBe("gzip");
    expect(gunzipSync(gz.body).equals(plain)).toBe(true);
    expect((await get(`${server.url}/${style}`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await get(`${server.url}/favicon.svg`)).headers.get("content-type")).toBe("image/svg+xml");
  });

  it("answers 404 for other paths and methods, and never stands in the way of RPCs or /metrics", async () => {
    for (const path of ["/nothing.js", "/assets/missing.js", "/../package.json", "/%2e%2e/package.json", "/assets/..%2f..%2fpackage.json", "/taskwire.v1.TaskService/NoSuchMethod"]) {
      expect((await get(`${server.url}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${server.url}/`, { method: "POST", body: "{}" })).status).toBe(404);
    const types = await get(`${server.url}/taskwire.v1.TaskService/ListTypes?encoding=json&message=%7B%7D`);
    expect(types.status).toBe(200);
    expect(JSON.parse(types.body.toString()).types.length).toBeGreaterThan(0);
    const metrics = await get(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toContain("text/plain");
  });

  it("GetTaskType gives a type with descriptors that decode and build its messages", async () => {
    const { type, descriptors } = await api.tasks.getTaskType({ name: "dashboard.report" });
    expect(type).toMatchObject({ name: "dashboard.report", inputType: "dashboard.v1.ReportRequest", outputType: "dashboard.v1.ReportResult", workerCount: 1 });
    const names = descriptors?.file.map((f) => f.name) ?? [];
    // Only what the two messages need, each file after its imports.
    expect(names.at(-1)).toBe("dashboard/v1/report.proto");
    expect(names).toEqual(expect.arrayContaining(["google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"]));
    const registry = createFileRegistry(descriptors!);
    const input = registry.getMessage("dashboard.v1.ReportRequest");
    expect(input?.fields.map((f) => f.name)).toEqual(["title", "format", "sections", "due_time", "max_pages", "tags"]);
    expect(registry.getMessage("dashboard.v1.ReportResult")?.fields.map((f) => f.name)).toEqual(["summary", "page_count", "format"]);
    // A message built from the served descriptors is accepted by Submit.
    const message = create(input!, { title: "t", sections: [{ heading: "h", lines: 3 }] } as never);
    const { task } = await api.tasks.submit({ type: "dashboard.report", input: anyPack(input!, message) });
    expect(task?.type).toBe("dashboard.report");
    expect(ReportRequestSchema.typeName).toBe(input?.typeName);
  });

  it("GetTaskType refuses an unknown type (NOT_FOUND) and a bad name (INVALID_ARGUMENT)", async () => {
    const missing = await api.tasks.getTaskType({ name: "dashboard.nope" }).catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    for (const name of ["", "bad name!"]) {
      const bad = await api.tasks.getTaskType({ name }).catch((e: unknown) => ConnectError.from(e));
      expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
      expect((bad as ConnectError).rawMessage).toMatch(/^name: /);
    }
  });

  it("GetOverview counts the last hour per minute, the backlog, workers, slots and paused queues", async () => {
    await api.admin.pauseQueue({ name: "dash-paused" });
    const held = await api.tasks.submit({ type: "dashboard.fail-once", queue: "dash-paused", input: anyPack(ReportRequestSchema, create(ReportRequestSchema)) }).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(ConnectError); // a Struct type given another message: refused
    await api.tasks.submit({ type: "dashboard.fail-once", queue: "dash-paused", input: { typeUrl: "type.googleapis.com/google.protobuf.Struct", value: new Uint8Array() } });
    const ran = [];
    for (let i = 0; i < 3; i++) ran.push((await api.tasks.submit({ type: "dashboard.fail-once", input: { typeUrl: "type.googleapis.com/google.protobuf.Struct", value: new Uint8Array() } })).task!.id);
    for (const id of ran) await eventually(async () => (await api.tasks.getStatus({ id })).task?.state === TaskState.FAILED, 30_000, `task ${id} to fail`);
    const overview = await eventually(async () => {
      const o = await api.admin.getOverview({});
      return o.minutes.reduce((sum, m) => sum + Number(m.failed), 0) >= 3 && o;
    }, 30_000, "the failures in the overview");
    expect(overview.minutes).toHaveLength(60);
    const times = overview.minutes.map((m) => Number(m.startTime?.seconds));
    expect(times.every((t, i) => i === 0 || t - (times[i - 1] as number) === 60)).toBe(true);
    expect(overview.minutes.reduce((sum, m) => sum + Number(m.started), 0)).toBeGreaterThanOrEqual(3);
    expect(durationMs(overview.queueWaitP50!)).toBeGreaterThan(0);
    expect(durationMs(overview.queueWaitP95!)).toBeGreaterThanOrEqual(durationMs(overview.queueWaitP50!));
    expect(overview.backlog.find((c) => c.state === TaskState.QUEUED)?.count).toBeGreaterThanOrEqual(1n);
    expect(overview).toMatchObject({ workers: 1, servers: 1, pausedQueues: ["dash-paused"] });
    expect(overview.slots).toBeGreaterThan(0);
    await api.admin.resumeQueue({ name: "dash-paused" });
  });

  it("ListTasks narrows by creation time (the dashboard's time range)", async () => {
    const batch = `t${Date.now()}`;
    const made: Task[] = [];
    for (let i = 0; i < 3; i++) made.push((await api.tasks.submit({ type: "dashboard.fail-once", labels: { batch }, input: { typeUrl: "type.googleapis.com/google.protobuf.Struct", value: new Uint8Array() } })).task!);
    const ms = (t: Task) => timestampMs(t.createTime!);
    const pivot = made[1]!;
    const ids = async (range: { createdAfter?: typeof pivot.createTime; createdBefore?: typeof pivot.createTime }) =>
      (await api.tasks.listTasks({ labels: { batch }, ...range })).tasks.map((t) => t.id).sort();
    const expected = (keep: (t: Task) => boolean) => made.filter(keep).map((t) => t.id).sort();
    expect(await ids({ createdAfter: pivot.createTime })).toEqual(expected((t) => ms(t) >= ms(pivot)));
    expect(await ids({ createdBefore: pivot.createTime })).toEqual(expected((t) => ms(t) < ms(pivot)));
    expect(await ids({ createdAfter: made[0]!.createTime, createdBefore: timestampFromMs(ms(made[2]!) + 1) })).toEqual(expected(() => true));
    expect((await api.tasks.listTasks({ labels: { batch }, createdAfter: timestampFromMs(ms(made[2]!) + 60_000) })).totalCount).toBe(0n);
    for (const [request, field] of [
      [{ createdAfter: pivot.createTime, createdBefore: pivot.createTime }, "created_before"],
      [{ createdAfter: { seconds: 1n, nanos: -1 } }, "created_after"],
      [{ createdBefore: { seconds: -5n, nanos: 0 } }, "created_before"],
    ] as const) {
      const error = await api.tasks.listTasks(request).catch((e: unknown) => ConnectError.from(e));
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage).toMatch(new RegExp(`^${field}: `));
    }
  });

  it("GetCaller says the server checks no keys and allows everything", async () => {
    expect(await api.admin.getCaller({})).toMatchObject({ auth: false, keyId: "", role: "" });
    expect((await api.admin.getCaller({})).permissions).toEqual(expect.arrayContaining(["fleet.read", "fleet.act", "tasks.submit"]));
  });
});

describe("GetCaller with API keys", () => {
  const viewer = testKey("ui-viewer", "viewer");
  const admin = testKey("ui-admin", "admin");
  const client = testKey("ui-client", "client");
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ apiKeys: [viewer.env, admin.env, client.env].join(","), dashboardDir: ui.dir });
  }, 60_000);
  afterAll(() => server?.stop());

  it("names the key, its role and its permissions", async () => {
    expect(await clients(server.url, viewer.headers).admin.getCaller({})).toMatchObject({ auth: true, keyId: "ui-viewer", role: "viewer", permissions: ["tasks.read", "fleet.read"] });
    const asAdmin = await clients(server.url, admin.headers).admin.getCaller({});
    expect(asAdmin).toMatchObject({ auth: true, keyId: "ui-admin", role: "admin" });
    expect(asAdmin.permissions).toContain("fleet.act");
  });

  it("refuses a call without a key (UNAUTHENTICATED) and a client key (PERMISSION_DENIED), as the overview does", async () => {
    for (const [headers, code] of [[{}, Code.Unauthenticated], [client.headers, Code.PermissionDenied]] as const) {
      for (const call of [() => clients(server.url, headers).admin.getCaller({}), () => clients(server.url, headers).admin.getOverview({})]) {
        const error = await call().catch((e: unknown) => ConnectError.from(e));
        expect((error as ConnectError).code).toBe(code);
      }
    }
  });

  it("serves the page itself without a key: the sign-in is in the page", async () => {
    expect((await get(`${server.url}/`)).status).toBe(200);
  });
});

describe("without a build, or turned off", () => {
  let empty: string;
  let servers: TestServer[] = [];
  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), "taskwire-no-ui-"));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    servers = [];
    await rm(empty, { recursive: true, force: true });
  });

  it("answers / with a page that says how to build it", async () => {
    const server = await startTestServer({ dashboardDir: empty });
    servers.push(server);
    const page = await get(`${server.url}/`);
    expect(page.status).toBe(404);
    expect(page.body.toString()).toContain("npm run build:ui");
    expect((await get(`${server.url}/assets/x.js`)).status).toBe(404);
  }, 60_000);

  it("serves no page with --dashboard off, and the API as before", async () => {
    const server = await startTestServer({ dashboardDir: ui.dir, dashboard: "off" });
    servers.push(server);
    expect((await get(`${server.url}/`)).status).toBe(404);
    expect((await clients(server.url).tasks.listTypes({})).types).toEqual(expect.any(Array));
  }, 60_000);
});
