/**
 * The README's schedules example (`<!-- schedules:begin -->`), as written: it type-checks under
 * the project's compiler options, its task declares its schedule in Hello, and its deploy
 * function upserts the schedule it shows (against a stand-in ScheduleService).
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskDefinition } from "../../src/common/task-definition.js";
import type { TaskwireClient } from "../../src/client/index.js";
import { declaredSchedules } from "../../src/server/rpc/schedule-convert.js";
import { buildHello, taskDeclaration } from "../../src/worker/hello.js";
import { readmeBlocks } from "../support/readme.js";
import { ROOT } from "../support/server.js";

const [snippet] = readmeBlocks("schedules", "ts");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(ROOT, ".readme-schedules-"));
  await writeFile(join(dir, "snippet.ts"), snippet ?? "");
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["snippet.ts"] }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the README's schedules example", () => {
  it("type-checks", () => {
    expect(snippet).toContain("client.schedules.upsert(");
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  }, 60_000);

  it("declares its schedule in Hello and upserts the one it shows", async () => {
    const module = (await import(pathToFileURL(join(dir, "snippet.ts")).href)) as {
      cleanUp: TaskDefinition;
      deploySchedules: (client: TaskwireClient) => Promise<{ created: boolean; fired: bigint }>;
    };
    const hello = buildHello({ workerId: "w", host: "h", pid: 1, queues: ["default"], slots: 1, burst: false }, [module.cleanUp], [taskDeclaration(module.cleanUp)]);
    expect(declaredSchedules(hello).map((d) => [d.id, d.definition.spec.cron])).toEqual([["storage.clean_up", "0 */6 * * *"]]);

    const upserts: unknown[] = [];
    const client = {
      schedules: { upsert: async (id: string, options: unknown) => (upserts.push({ id, options }), { created: true }) },
      listTasks: async (filter: unknown) => (upserts.push(filter), { totalCount: 0n }),
    } as unknown as TaskwireClient;
    expect(await module.deploySchedules(client)).toEqual({ created: true, fired: 0n });
    expect(upserts).toMatchObject([
      { id: "storage.clean_up.nightly", options: { cron: "30 2 * * *", timeZone: "Europe/Vienna", catchUp: "RUN_ONCE", input: { olderThan: "1d" } } },
      { labels: { schedule: "storage.clean_up.nightly" } },
    ]);
  });
});
