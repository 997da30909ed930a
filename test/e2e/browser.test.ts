/**
 * Browsers and plain HTTP: the browser example (`examples/browser/follow-task.ts`) with
 * `@connectrpc/connect-web`'s Connect and gRPC-Web transports, run in Node on its `fetch`
 * (unary calls, `StreamProgress` to the end, error details); CORS preflights and headers; and,
 * when Chromium is installed, the example page itself in headless Chromium, calling the server
 * from another origin.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import type { StreamProgressResponse } from "../../gen/taskwire/v1/task_service_pb.js";
import {
  createTaskClient,
  describeEvent,
  outputJson,
  submitAndFollow,
  type BrowserProtocol,
} from "../../examples/browser/follow-task.js";
import { eventually, ROOT, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";
import { freePort } from "../support/private-redis.js";

const APP_ORIGIN = "http://app.example";

/** What the example page posts to `?report=` once its task ended. */
interface PageReport {
  status: string;
  log: string;
}
const CHROMIUM = ["chromium", "chromium-browser", "google-chrome"].find((name) => spawnSync("which", [name]).status === 0);

let server: TestServer;
let worker: WorkerProcess;
/** Where the headless test serves the example page: another origin than the server's. */
let pagePort: number;

beforeAll(async () => {
  pagePort = await freePort();
  server = await startTestServer({ corsOrigins: [APP_ORIGIN, `http://127.0.0.1:${pagePort}`] });
  worker = spawnWorker(server.url);
  const client = createTaskClient(server.url);
  await eventually(async () => (await client.listTypes({})).types.some((t) => t.name === "test.sleep" && t.workerCount > 0), 20_000, "the worker");
});

afterAll(async () => {
  worker?.kill();
  await worker?.exited;
  await server?.stop();
});

describe.each(["connect", "grpc-web"] satisfies BrowserProtocol[])("connect-web over %s", (protocol) => {
  it("calls unary methods", async () => {
    const client = createTaskClient(server.url, protocol);
    const { types } = await client.listTypes({});
    expect(types.map((t) => t.name)).toContain("test.sleep");
  });

  it("submits and follows StreamProgress to the terminal state", async () => {
    const client = createTaskClient(server.url, protocol);
    const events: StreamProgressResponse[] = [];
    const last = await submitAndFollow(client, "test.sleep", { ms: 300, steps: 3 }, (event) => events.push(event));
    expect(last?.state).toBe(TaskState.SUCCEEDED);
    expect(outputJson(last as StreamProgressResponse)).toMatchObject({ slept: 300 });
    const lines = events.map(describeEvent);
    expect(lines).toContain("RUNNING 100% step 3 of 3");
    expect(lines.at(-1)).toMatch(/^SUCCEEDED/);
  });

  it("reads error codes and details", async () => {
    const client = createTaskClient(server.url, protocol);
    const error = await submitAndFollow(client, "browser.missing", {}, () => undefined).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.reason).toBe("TASK_TYPE_NOT_FOUND");
  });
});

/** A raw HTTP/1.1 request (fetch may not set Origin): status, headers and body. */
function rawRequest(url: string, method: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("CORS", () => {
  const submitUrl = () => `${server.url}/taskwire.v1.TaskService/Submit`;
  const preflight = (origin: string, method = "POST") =>
    rawRequest(submitUrl(), "OPTIONS", {
      Origin: origin,
      "Access-Control-Request-Method": method,
      "Access-Control-Request-Headers": "content-type,connect-protocol-version,x-grpc-web,x-user-agent",
    });

  it("answers a preflight from an allowed origin", async () => {
    const response = await preflight(APP_ORIGIN);
    expect(response.status).toBe(204);
    expect(response.headers["access-control-allow-origin"]).toBe(APP_ORIGIN);
    const methods = String(response.headers["access-control-allow-methods"]).split(/,\s*/);
    expect(methods).toEqual(expect.arrayContaining(["POST", "GET", "OPTIONS"]));
    const allowed = String(response.headers["access-control-allow-headers"]).toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "connect-protocol-version", "connect-timeout-ms", "x-grpc-web", "x-user-agent", "grpc-timeout"]));
    expect(response.headers["access-control-max-age"]).toBe("7200");
    expect(response.headers["vary"]).toContain("Origin");
  });

  it("refuses a preflight from another origin", async () => {
    const response = await preflight("http://evil.example");
    expect(response.status).toBe(403);
    expect(response.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("adds the CORS headers to calls from an allowed origin, exposing the status headers", async () => {
    const response = await rawRequest(submitUrl(), "POST", { Origin: APP_ORIGIN, "Content-Type": "application/json" }, JSON.stringify({ type: "cors.missing" }));
    expect(response.status).toBe(404);
    expect(response.headers["access-control-allow-origin"]).toBe(APP_ORIGIN);
    const exposed = String(response.headers["access-control-expose-headers"]).toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "taskwire-reason"]));
  });

  it("adds nothing for another origin, or without configured origins", async () => {
    const other = await rawRequest(submitUrl(), "POST", { Origin: "http://evil.example", "Content-Type": "application/json" }, "{}");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const plain = await startTestServer();
    try {
      const response = await rawRequest(`${plain.url}/taskwire.v1.TaskService/Submit`, "OPTIONS", { Origin: APP_ORIGIN, "Access-Control-Request-Method": "POST" });
      expect(response.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      await plain.stop();
    }
  });
});

describe.skipIf(CHROMIUM === undefined)("the example page in headless Chromium", () => {
  let pageDir: string;
  let pageServer: Server;
  /** Resolvers of the pages waiting for their report, by run id. */
  const reports = new Map<string, (report: PageReport) => void>();

  beforeAll(async () => {
    // Bundle main.ts (esbuild, which vitest already depends on) and serve it with index.html.
    pageDir = await mkdtemp(join(tmpdir(), "taskwire-page-"));
    const { build } = await import("esbuild");
    await build({ entryPoints: [`${ROOT}examples/browser/main.ts`], bundle: true, format: "esm", outfile: join(pageDir, "main.js"), logLevel: "silent" });
    await copyFile(`${ROOT}examples/browser/index.html`, join(pageDir, "index.html"));
    pageServer = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://page");
      if (req.method === "POST" && url.pathname === "/report") {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString()));
        req.on("end", () => {
          reports.get(url.searchParams.get("run") ?? "")?.(JSON.parse(body) as PageReport);
          res.writeHead(204);
          res.end();
        });
        return;
      }
      const name = url.pathname === "/main.js" ? "main.js" : "index.html";
      readFile(join(pageDir, name)).then(
        (content) => {
          res.writeHead(200, { "Content-Type": name.endsWith(".js") ? "text/javascript" : "text/html" });
          res.end(content);
        },
        () => {
          res.writeHead(404);
          res.end();
        },
      );
    });
    await new Promise<void>((resolve) => pageServer.listen(pagePort, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => pageServer?.close(resolve));
    if (pageDir) await rm(pageDir, { recursive: true, force: true });
  });

  /** Opens the page in headless Chromium (it submits at once) and resolves with what it reports. */
  async function runPage(query: Record<string, string>): Promise<PageReport> {
    const run = Math.random().toString(16).slice(2);
    const origin = `http://127.0.0.1:${pagePort}`;
    const report = new Promise<PageReport>((resolve) => reports.set(run, resolve));
    const url = `${origin}/?${new URLSearchParams({ ...query, report: `${origin}/report?run=${run}` }).toString()}`;
    const profile = await mkdtemp(join(tmpdir(), "taskwire-chromium-"));
    const browser = spawn(
      CHROMIUM as string,
      ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${profile}`, "--remote-debugging-port=0", url],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    browser.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => browser.once("exit", () => resolve()));
    try {
      return await Promise.race([
        report,
        exited.then(() => Promise.reject(new Error(`Chromium exited before the page reported:\n${stderr}`))),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no report within 60 s:\n${stderr}`)), 60_000)),
      ]);
    } finally {
      browser.kill("SIGKILL");
      await exited;
      // Chromium's helper processes may still write to the profile for a moment after the kill.
      await rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }

  it.each(["connect", "grpc-web"] satisfies BrowserProtocol[])("submits and follows a task over %s from another origin", async (protocol) => {
    const report = await runPage({ server: server.url, protocol, type: "test.sleep", input: JSON.stringify({ ms: 300, steps: 3 }) });
    expect(report.status).toMatch(/^SUCCEEDED 100%/);
    expect(report.log).toContain("RUNNING 100% step 3 of 3");
    expect(report.log).toMatch(/output: \{.*"slept":300/);
  }, 90_000);

  it("is blocked by the browser when the server does not allow the page's origin", async () => {
    const closed = await startTestServer(); // no corsOrigins
    try {
      const report = await runPage({ server: closed.url, protocol: "connect", type: "test.sleep", input: "{}" });
      expect(report.status).toMatch(/^error: .*(fetch|network)/i);
      expect(report.log).toBe("");
    } finally {
      await closed.stop();
    }
  }, 90_000);
});
