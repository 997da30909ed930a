/**
 * `taskwire dev` (server and worker in one process) prints a task's `ctx.log` line once, in the
 * worker's log: the server stores the line (`taskwire logs <id>`) and does not print it again.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { spawnCli, type CliProcess } from "../support/cli-process.js";
import { eventually, runCli, tempDataDir } from "../support/server.js";

let dataDir: string;
let dev: CliProcess;

beforeAll(async () => {
  dataDir = await tempDataDir();
});

afterAll(async () => {
  dev?.kill("SIGKILL");
  await dev?.exited;
  await rm(dataDir, { recursive: true, force: true });
});

it("prints a task's log line once, and stores it", async () => {
  dev = spawnCli(["dev", "--examples", "--port", "0", "--data-dir", dataDir, "--log-format", "json"], { together: true });
  const [, port] = await dev.waitFor(/taskwire server listening on http:\/\/127\.0\.0\.1:(\d+)/, 90_000);
  const url = `http://127.0.0.1:${port}`;
  const client = createClient({ url });
  try {
    await eventually(async () => (await client.listTypes()).some((type) => type.name === "examples.process_data" && type.workerCount > 0), 30_000, "the worker");
    const handle = await client.submitByName("examples.process_data", { count: 20 });
    await handle.wait();
    const line = "processed 20 items in 2 chunks";
    await dev.waitFor(new RegExp(line), 10_000);
    expect(dev.output.split("\n").filter((text) => text.includes(line)), dev.output).toHaveLength(1);
    const logs = await runCli(["logs", handle.id, "--url", url]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain(`#1  INFO   ${line}`);
  } finally {
    client.close();
  }
}, 120_000);
