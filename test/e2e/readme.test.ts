/**
 * The README's quick start, run as written: its `dev` command in the background (on the
 * embedded default, in a temporary data directory, on a free port), then its submission
 * commands in one shell.
 */
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { eventually, ROOT, tempDataDir } from "../support/server.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const quickstart = /<!-- quickstart:begin -->([\s\S]*?)<!-- quickstart:end -->/.exec(readme)?.[1] ?? "";
const blocks = [...quickstart.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]?.trim() ?? "");

/** Runs shell text with `npx taskwire` meaning this checkout's CLI. */
function shell(script: string, env: Record<string, string>) {
  const child = spawn("bash", ["-c", `set -euo pipefail\nnpx() { shift; node bin/taskwire.js "$@"; }\n${script}`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so that `stop` reaches every process it started
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const done = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
  const stop = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGTERM");
  };
  return { child, done, output: () => output, stop };
}

/** A port free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

let dev: ReturnType<typeof shell> | undefined;
let dataDir: string;

beforeAll(async () => {
  dataDir = await tempDataDir();
});

afterAll(async () => {
  dev?.stop();
  await dev?.done;
  await rm(dataDir, { recursive: true, force: true });
});

describe("README quick start", () => {
  it("has a dev command and submission commands", () => {
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toBe("npx taskwire dev --examples");
  });

  it("runs as written", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { TASKWIRE_URL: url, TASKWIRE_PORT: String(port), TASKWIRE_DATA_DIR: dataDir, TASKWIRE_REDIS_URL: "", TASKWIRE_DATABASE_URL: "" };
    // Not `exec`: that would bypass the `npx` function and run the real npx.
    dev = shell(blocks[0] ?? "", env);
    const client = createClient({ url });
    await eventually(
      async () => (await client.listTypes().catch(() => [])).some((t) => t.workerCount > 0),
      30_000,
      "the dev server and its example worker",
    );
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
