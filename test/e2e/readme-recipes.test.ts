/**
 * The README's recipes a newcomer copies (issue 21): the browser page's server, started with
 * `taskwire dev --examples` as written, answers the page's origin; the plain HTTP GET lines of
 * "Clients" work as written; the Python section gives the pip line its script accepts; the
 * README says TASKWIRE_URL is needed with another port.
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { spawnWatched, type CliProcess } from "../support/cli-process.js";
import { readmeBlocks, runReadmeShell } from "../support/readme.js";
import { eventually, ROOT, startTestServer, tempDataDir, type TestServer } from "../support/server.js";

const readme = readFileSync(`${ROOT}README.md`, "utf8");
/** The README's prose with its line breaks as spaces. */
const prose = readme.replace(/\s+/g, " ");

/** JSON values printed one after the other (curl adds no newline): split and parsed. */
function jsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" && depth++ === 0) start = i;
    else if (c === "}" && --depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
  }
  return values;
}

/** A port free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe("the browser recipe", () => {
  const [server, page] = readmeBlocks("browser-recipe", "sh");
  let dev: CliProcess | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    dev?.kill("SIGTERM");
    await dev?.exited;
    await rm(dataDir, { recursive: true, force: true });
  });

  it("has the server in one block and the page in another", () => {
    expect(server).toBe("TASKWIRE_CORS_ORIGINS=http://localhost:8080 npx taskwire dev --examples");
    expect(page).toContain("npx esbuild examples/browser/main.ts");
    expect(page).toContain("python3 -m http.server 8080 -d examples/browser");
  });

  it("runs a server and the example worker that answer the page's origin", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // `npx taskwire` is this checkout's CLI, as in the quick start.
    dev = spawnWatched("bash", ["-c", `npx() { shift; exec node bin/taskwire.js "$@"; }\n${server ?? ""}`], {
      env: { TASKWIRE_PORT: String(port), TASKWIRE_DATA_DIR: dataDir, TASKWIRE_REDIS_URL: "", TASKWIRE_DATABASE_URL: "" },
    });
    const client = createClient({ url });
    await eventually(async () => (await client.listTypes().catch(() => [])).some((type) => type.name === "examples.long_running" && type.workerCount > 0), 90_000, "dev --examples");
    client.close();
    const preflight = await fetch(`${url}/taskwire.v1.TaskService/Submit`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:8080", "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-grpc-web" },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:8080");
  }, 120_000);
});

describe("the plain HTTP GET lines of Clients", () => {
  let server: TestServer;
  let worker: CliProcess;

  beforeAll(async () => {
    server = await startTestServer();
    worker = spawnWatched(process.execPath, ["bin/taskwire.js", "worker", "start", "--url", server.url, "--tasks", "examples/tasks.ts"]);
    const client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((type) => type.name === "examples.factorial" && type.workerCount > 0), 60_000, "the example worker");
    client.close();
  }, 90_000);

  afterAll(async () => {
    worker.kill("SIGTERM");
    await worker.exited;
    await server.stop();
  });

  it("answer GetStatus and ListTypes as written", async () => {
    const block = readmeBlocks("clients", "sh").find((text) => text.includes("--get"));
    expect(block).toBeDefined();
    const result = await runReadmeShell(block ?? "", server.url.replace("http://", ""));
    expect(result.code, result.stderr).toBe(0);
    const [status, types] = jsonValues(result.stdout) as Record<string, unknown>[];
    expect(status).toMatchObject({ task: { type: "examples.factorial" } });
    expect((types as { types: { name: string }[] }).types.map((type) => type.name)).toContain("examples.factorial");
  }, 60_000);
});

describe("the README's notes for newcomers", () => {
  it("says TASKWIRE_URL is needed with a server on another port", () => {
    expect(prose).toContain("a server on another port needs it, `export TASKWIRE_URL=http://127.0.0.1:50052`");
  });

  it("gives the pip line of the Python example, with the packages its script uses", () => {
    const line = /^python3 -m pip install ([^#\n]+?)\s+#/m.exec(readme)?.[1]?.split(/\s+/) ?? [];
    expect(line).toEqual(expect.arrayContaining(["grpcio", "grpcio-tools", "protobuf"]));
    expect(readFileSync(`${ROOT}examples/python/generate.sh`, "utf8")).toContain("grpc_tools.protoc");
  });
});
