/**
 * The README's "Context and logs of a task" example, as written: it type-checks under the
 * project's compiler options, and runs against a real server on both back ends (the retry
 * resumes from the context the first attempt saved; the log holds both attempts' lines); and
 * `taskwire logs` prints the lines in the form the README shows.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import type { Worker } from "../../src/worker/index.js";
import { readmeBlocks } from "../support/readme.js";
import { BACKENDS, eventually, ROOT, runCli, startTestServer, type TestServer } from "../support/server.js";

const [example] = readmeBlocks("context-logs", "ts");
let dir: string;

interface ExampleModule {
  startWorker(url: string): Worker;
  importAndRead(url: string): Promise<{ output: unknown; context: unknown; lines: string[] }>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(ROOT, ".readme-context-logs-"));
  await writeFile(join(dir, "context-logs.ts"), example ?? "");
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["context-logs.ts"] }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("the example type-checks", () => {
  expect(example).toContain('ctx.context.set("validation.status", "ok")');
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
}, 60_000);

describe.each(BACKENDS)("the example on %s", (backend) => {
  let server: TestServer;
  let worker: Worker | undefined;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await server?.stop();
  });

  it("resumes the retry from the saved context, and the log holds both attempts' lines", async () => {
    const module = (await import(pathToFileURL(join(dir, "context-logs.ts")).href)) as ExampleModule;
    worker = module.startWorker(server.url);
    const client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((type) => type.name === "shop.import_orders" && type.workerCount > 0), 30_000, "the worker");
    const result = await module.importAndRead(server.url);
    expect(result.output).toEqual({ rows: 3, resumedAfter: 2 });
    expect(result.context).toEqual({ validation: { status: "ok" }, import: { rows: 3 } });
    expect(result.lines).toEqual(["#1 validating the file", "#1 imported row 1", "#1 imported row 2", "#2 imported row 3"]);
    const [task] = (await client.listTasks({ type: "shop.import_orders" })).tasks;
    client.close();
    const cli = await runCli(["logs", task!.id, "--url", server.url]);
    expect(cli.code, cli.stderr).toBe(0);
    const lines = cli.stdout.split("\n").filter(Boolean);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}#1 {2}INFO {3}validating the file {2}\{"file":"orders\.csv"\}$/);
    expect(lines[3]).toMatch(/ {2}#2 {2}INFO {3}imported row 3 {2}\{"row":3\}$/);
    const follow = await runCli(["logs", task!.id, "--follow", "--level", "warn", "--url", server.url]);
    expect(follow.code, follow.stderr).toBe(0);
    expect(follow.stdout).toBe("");
    expect(follow.stderr).toBe(`task ${task!.id} ended SUCCEEDED\n`);
  }, 90_000);
});
