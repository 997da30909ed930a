/**
 * The README's "Limits and fairness" example, as written: it type-checks, and its worker and
 * client run against a real server on both back ends (declared limits, an operator's override,
 * submissions with concurrency keys).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import type { Worker } from "../../src/worker/index.js";
import { readmeBlocks } from "../support/readme.js";
import { BACKENDS, eventually, ROOT, startTestServer, type TestServer } from "../support/server.js";

const [example] = readmeBlocks("limits", "ts");
let dir: string;

interface LimitsModule {
  startWorker(url: string): Worker;
  mirrorAll(url: string, repositories: string[]): Promise<string[]>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(ROOT, ".readme-limits-"));
  await writeFile(join(dir, "limits.ts"), example ?? "");
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["limits.ts"] }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it("the example type-checks", () => {
  expect(example).toContain("limits: { concurrency: 10, perKey: 2 }");
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

  it("mirrors each repository under its key, within the declared and the operator's limits", async () => {
    const module = (await import(pathToFileURL(join(dir, "limits.ts")).href)) as LimitsModule;
    worker = module.startWorker(server.url);
    const client = createClient({ url: server.url });
    try {
      await eventually(async () => (await client.listTypes()).some((type) => type.name === "git.mirror" && type.workerCount > 0), 30_000, "the worker");
      const repositories = ["acme/site", "acme/site", "acme/api", "globex/app"];
      expect(await module.mirrorAll(server.url, repositories)).toEqual(repositories);
      const [limit] = (await client.admin.listLimits()).filter((l) => l.target.value === "git.mirror");
      expect(limit?.effective).toMatchObject({ concurrency: 10, perKey: 2, keyRate: { count: 10 } });
    } finally {
      client.close();
    }
  }, 60_000);
});
