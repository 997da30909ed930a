/**
 * The README's workflow example (Workflows: dependencies), run as written: its three files saved
 * in a folder of the checkout, the worker and the client run with tsx against a server. The
 * client prints the order's id and both children's outputs, which read the order's output
 * through `ctx.parents`; `taskwire tasks tree` prints the graph as the README shows it.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { spawnWatched } from "../support/cli-process.js";
import { readmeBlocks } from "../support/readme.js";
import { eventually, ROOT, runCli, startTestServer, type TestServer } from "../support/server.js";

const blocks = readmeBlocks("workflow-example", "ts");

/** The file a block says it is (its first line, `// orders/tasks.ts`). */
function fileOf(block: string): string {
  const name = /^\/\/ orders\/([\w-]+\.ts)\n/.exec(block)?.[1];
  if (!name) throw new Error(`a workflow-example block does not start with its file name:\n${block}`);
  return name;
}

describe("the README's workflow example", () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    server = await startTestServer();
    dir = await mkdtemp(join(ROOT, ".readme-workflows-"));
    for (const block of blocks) await writeFile(join(dir, fileOf(block)), `${block}\n`);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await server.stop();
  });

  it("has the tasks, the worker and the client", () => {
    expect(blocks.map(fileOf)).toEqual(["tasks.ts", "worker.ts", "client.ts"]);
  });

  it("runs as written, and `tasks tree` prints the graph", async () => {
    const env = { TASKWIRE_URL: server.url };
    const worker = spawnWatched(process.execPath, ["--import", "tsx", join(dir, "worker.ts")], { env });
    try {
      const client = createClient({ url: server.url });
      await eventually(async () => (await client.listTypes()).filter((type) => type.workerCount > 0).length === 3, 60_000, "the worker");
      const run = spawnWatched(process.execPath, ["--import", "tsx", join(dir, "client.ts")], { env });
      expect(await run.exited, run.output).toBe(0);
      const [orderId, confirmation, inventory] = run.stdout.trim().split("\n");
      expect(confirmation).toBe('{"sentTo":"ada@example.com","about":"order-A1"}');
      expect(inventory).toBe('{"sku":"A1","reserved":2}');
      const children = (await client.listTasks({ parentId: orderId })).tasks.sort((a, b) => (a.id < b.id ? -1 : 1));
      client.close();
      expect(children.map((task) => task.type)).toEqual(["orders.confirm", "inventory.update"]);
      const tree = await runCli(["tasks", "tree", orderId ?? "", "--url", server.url]);
      expect(tree.stdout).toBe(
        [
          `${orderId}  orders.place  SUCCEEDED`,
          `├─ ${children[0]?.id}  orders.confirm  SUCCEEDED`,
          `└─ ${children[1]?.id}  inventory.update  SUCCEEDED`,
          "",
        ].join("\n"),
      );
    } finally {
      worker.kill("SIGINT");
    }
    expect(await worker.exited, worker.output).toBe(0);
  }, 120_000);
});
