/**
 * The README's quick start, run as written: its worker command in the background, then its
 * submission commands in one shell, against a test server.
 */
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { eventually, ROOT, startTestServer, type TestServer } from "../support/server.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const quickstart = /<!-- quickstart:begin -->([\s\S]*?)<!-- quickstart:end -->/.exec(readme)?.[1] ?? "";
const blocks = [...quickstart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]?.trim() ?? "");

/** Runs shell text with `npx taskwire` meaning this checkout's CLI. */
function shell(script: string, env: Record<string, string>) {
  const child = spawn("bash", ["-c", `set -euo pipefail\nnpx() { shift; node bin/taskwire.js "$@"; }\n${script}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const done = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
  return { child, done, output: () => output };
}

let server: TestServer;
let worker: ReturnType<typeof shell> | undefined;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  worker?.child.kill("SIGTERM");
  await worker?.done;
  await server?.stop();
});

describe("README quick start", () => {
  it("has a worker command and submission commands", () => {
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toContain("worker start");
  });

  it("runs as written", async () => {
    const env = { TASKWIRE_URL: server.url };
    worker = shell(`exec ${blocks[0]}`, env);
    const client = createClient({ url: server.url });
    await eventually(async () => (await client.listTypes()).some((t) => t.workerCount > 0), 20_000, "the example worker");
    client.close();

    const run = shell(blocks[1] ?? "", env);
    const code = await run.done;
    const output = run.output();
    expect(output, output).not.toContain("error:");
    expect(code, output).toBe(0);
    expect(output).toContain("examples.long_running");
    expect(output).toContain("[SUCCEEDED] 100%");
    expect(output).toContain("2432902008176640000");
    expect(output).toMatch(/CANCELL(ING|ED)/);
    expect(output).toMatch(/\d+ of \d+ tasks/);
  }, 60_000);
});
