/**
 * The README's worked example in TypeScript, run as written: its three files saved in a folder
 * of the checkout, the worker and the client run with tsx against a server, as the README says
 * (`TASKWIRE_URL` for the server's port). The client prints progress as numbers and the URL; the
 * worker logs without being given a logger; SIGINT stops it as SIGTERM does.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { spawnWatched } from "../support/cli-process.js";
import { readmeBlocks } from "../support/readme.js";
import { eventually, ROOT, startTestServer, type TestServer } from "../support/server.js";

const blocks = readmeBlocks("worked-example", "ts");

/** The file a block says it is (its first line, `// reports/worker.ts`), within `dir`. */
function fileOf(block: string): string {
  const name = /^\/\/ reports\/([\w-]+\.ts)\n/.exec(block)?.[1];
  if (!name) throw new Error(`a worked-example block does not start with its file name:\n${block}`);
  return name;
}

describe("the README's worked example", () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer();
    // One level below the checkout, as `reports/` would be: the blocks import "../src/...".
    dir = await mkdtemp(join(ROOT, ".readme-worked-example-"));
    for (const block of blocks) await writeFile(join(dir, fileOf(block)), `${block}\n`);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await server.stop();
  });

  it("has the task, the worker and the client", () => {
    expect(blocks.map(fileOf)).toEqual(["reports.ts", "worker.ts", "client.ts"]);
  });

  it("runs as written: progress as numbers, the result, the worker's logs, SIGINT like SIGTERM", async () => {
    const env = { TASKWIRE_URL: server.url };
    const worker = spawnWatched(process.execPath, ["--import", "tsx", join(dir, "worker.ts")], { env });
    try {
      const client = createClient({ url: server.url });
      await eventually(async () => (await client.listTypes()).some((type) => type.name === "reports.generate" && type.workerCount > 0), 60_000, "the worker");
      client.close();

      const run = spawnWatched(process.execPath, ["--import", "tsx", join(dir, "client.ts")], { env });
      expect(await run.exited, run.output).toBe(0);
      const lines = run.stdout.trim().split("\n");
      expect(lines).toEqual([...Array.from({ length: 10 }, (_, i) => `${i + 1}/10 page ${i + 1}`), "https://reports.example/2026-10.pdf"]);
      expect(run.output).not.toMatch(/undefined|\dn /);

      // Logs by default: JSON lines off a terminal, with the attempt's outcome and ctx.log.
      const outcome = await worker.waitFor(/\{[^\n]*"outcome":"succeeded"[^\n]*\}\n/);
      expect(JSON.parse(outcome[0])).toMatchObject({ level: 30, taskType: "reports.generate", msg: expect.stringMatching(/^reports\.generate attempt 1 of 4 succeeded in /) });
      expect(worker.stderr).toContain('"msg":"report ready"');
    } finally {
      worker.kill("SIGINT");
    }
    // SIGINT drains and stops the worker; it exits on its own, with status 0.
    expect(await worker.exited, worker.output).toBe(0);
  }, 120_000);
});
