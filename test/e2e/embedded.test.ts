/**
 * The embedded default: state kept in its data directory across restarts, one server per
 * directory, and attempts left running by a killed server retried after the restart.
 */
import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { createClient, TaskState } from "../../src/client/index.js";
import { loadServerConfig } from "../../src/config/config.js";
import { silentLogger } from "../../src/core/logger.js";
import { startServer, type TaskwireServer } from "../../src/server/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { eventually, FAST, ROOT, spawnWorker, tempDataDir, type WorkerProcess } from "../support/server.js";

const dirs: string[] = [];
const workers: WorkerProcess[] = [];
const servers: TaskwireServer[] = [];

async function embedded(dataDir: string): Promise<{ server: TaskwireServer; url: string }> {
  const server = await startServer({ ...loadServerConfig({}), ...FAST, port: 0, dataDir }, silentLogger());
  servers.push(server);
  return { server, url: `http://127.0.0.1:${server.port}` };
}

async function newDir(): Promise<string> {
  const dir = await tempDataDir();
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const w of workers) w.kill("SIGKILL");
  await Promise.all(workers.map((w) => w.exited));
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("the embedded default", () => {
  it("keeps queued, scheduled and finished tasks across a restart", async () => {
    const dataDir = await newDir();
    const first = await embedded(dataDir);
    let client = createClient({ url: first.url });
    const worker = spawnWorker(first.url);
    workers.push(worker);
    await eventually(async () => (await client.listTypes()).some((t) => t.workerCount > 0), 20_000, "the worker");
    const done = await client.submit(fixtures.echo, { kept: true });
    expect(await done.result({ timeout: 20_000 })).toMatchObject({ kept: true });
    worker.kill();
    await worker.exited;
    const later = await client.submit(fixtures.echo, {}, { delay: "1h" });
    const waiting = await client.submit(fixtures.echo, { waited: true }, { queue: "after-restart" });
    client.close();
    await first.server.close();

    const second = await embedded(dataDir);
    client = createClient({ url: second.url });
    expect((await client.getStatus(done.id)).state).toBe(TaskState.SUCCEEDED);
    expect(await client.handle(done.id, fixtures.echo).result()).toMatchObject({ kept: true });
    expect((await client.getStatus(later.id)).state).toBe(TaskState.SCHEDULED);
    expect((await client.getStatus(waiting.id)).state).toBe(TaskState.QUEUED);
    // The rebuilt index hands the waiting task to a worker.
    const rescuer = spawnWorker(second.url, ["--queues", "after-restart"]);
    workers.push(rescuer);
    expect(await client.handle(waiting.id, fixtures.echo).result({ timeout: 20_000 })).toMatchObject({ waited: true });
    client.close();
    rescuer.kill();
    await rescuer.exited;
    await second.server.close();
  });

  it("refuses a second server on the same data directory", async () => {
    const dataDir = await newDir();
    const first = await embedded(dataDir);
    const error = await embedded(dataDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(dataDir);
    expect((error as Error).message).toMatch(/pid \d+/);
    await first.server.close();
    // Once the owner stopped, the directory can be opened again.
    const again = await embedded(dataDir);
    await again.server.close();
  });

  it("retries the attempts a killed server left running", async () => {
    const dataDir = await newDir();
    const child = spawn(process.execPath, ["bin/taskwire.js", "server", "--port", "0", "--data-dir", dataDir], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, TASKWIRE_REDIS_URL: "", TASKWIRE_DATABASE_URL: "" },
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.once("exit", () => reject(new Error(`server exited: ${out}`)));
    });
    const worker = spawnWorker(url, ["--worker-id", "orphaned"]);
    workers.push(worker);
    let client = createClient({ url });
    await eventually(async () => (await client.listTypes()).some((t) => t.workerCount > 0), 20_000, "the worker");
    const handle = await client.submit(fixtures.sleep, { ms: 60_000 }, { maxAttempts: 3 });
    await eventually(async () => (await handle.status()).state === TaskState.RUNNING, 20_000, "the task to run");
    client.close();
    child.kill("SIGKILL");
    await exited;
    worker.kill("SIGKILL");
    await worker.exited;

    const restarted = await embedded(dataDir);
    client = createClient({ url: restarted.url });
    const task = await client.getStatus(handle.id);
    expect([TaskState.QUEUED, TaskState.SCHEDULED]).toContain(task.state);
    expect(task.attempt).toBe(1);
    expect(task.errors[0]?.message).toContain("server stopped");
    await client.cancel(handle.id);
    client.close();
    await restarted.server.close();
  });
});
