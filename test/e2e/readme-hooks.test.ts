/**
 * The README's "Middleware, hooks and interceptors" examples, as written: they type-check under
 * the project's compiler options; the worker and client example runs against a real server on
 * both back ends (the tenant label reaches ListTasks, the hook and the interceptor saw the task);
 * the embedded server's interceptor audits calls and refuses a submission with its code.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { loadServerConfig, type ServerConfig } from "../../src/config/config.js";
import type { TaskwireServer } from "../../src/server/index.js";
import type { Worker } from "../../src/worker/index.js";
import { readmeBlocks } from "../support/readme.js";
import { BACKENDS, eventually, FAST, ROOT, startTestServer, tempDataDir, type TestServer } from "../support/server.js";

const [hooks] = readmeBlocks("hooks", "ts");
const [serverInterceptors] = readmeBlocks("server-interceptors", "ts");
let dir: string;

interface HooksModule {
  seen: string[];
  startWorker(url: string): Worker;
  invoiceFromARequest(url: string): Promise<string[]>;
}

interface ServerModule {
  auditTrail: string[];
  serve(config: ServerConfig): Promise<TaskwireServer>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(ROOT, ".readme-hooks-"));
  await writeFile(join(dir, "hooks.ts"), hooks ?? "");
  await writeFile(join(dir, "server-interceptors.ts"), serverInterceptors ?? "");
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["hooks.ts", "server-interceptors.ts"] }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("the examples type-check", () => {
  expect(hooks).toContain("worker.use(timing).use(attemptScope)");
  expect(serverInterceptors).toContain("startServer(config, createLogger(\"warn\"), { interceptors: [audit] })");
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
}, 180_000); // a whole type-check, on a loaded machine

describe.each(BACKENDS)("the worker and client example on %s", (backend) => {
  let server: TestServer;
  let worker: Worker | undefined;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await server?.stop();
  });

  it("labels the task with the request's tenant, and its hook and interceptor see it", async () => {
    const module = (await import(pathToFileURL(join(dir, "hooks.ts")).href)) as HooksModule;
    module.seen.length = 0;
    worker = module.startWorker(server.url);
    const client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((type) => type.name === "billing.send_invoice" && type.workerCount > 0), 30_000, "the worker");
    client.close();
    const ids = await module.invoiceFromARequest(server.url);
    expect(ids).toHaveLength(1);
    expect(module.seen).toEqual([`submitted billing.send_invoice as ${ids[0]}`, "sent INV-7 on attempt 1"]);
  }, 60_000);
});

describe("the server interceptor example", () => {
  let server: TaskwireServer | undefined;
  let dataDir: string;

  afterAll(async () => {
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("audits the calls and refuses a submission during maintenance with UNAVAILABLE", async () => {
    const module = (await import(pathToFileURL(join(dir, "server-interceptors.ts")).href)) as ServerModule;
    dataDir = await tempDataDir();
    server = await module.serve({ ...loadServerConfig({}), ...FAST, port: 0, redisUrl: undefined, databaseUrl: undefined, dataDir });
    const url = `http://127.0.0.1:${server.port}`;
    const client = createClient({ url, headers: { "x-maintenance": "on" } });
    try {
      await expect(client.submitByName("any.type", {})).rejects.toMatchObject({ code: Code.Unavailable, rawMessage: "submissions are paused for maintenance" });
      await client.listTypes();
      expect(module.auditTrail).toContain("anonymous taskwire.v1.TaskService/ListTypes");
      expect(module.auditTrail.some((line) => line.endsWith("/Submit"))).toBe(false);
    } finally {
      client.close();
    }
  }, 60_000);
});
