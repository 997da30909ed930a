/**
 * The CLI's rough edges of issue 21, each as a newcomer meets it, as processes against a real
 * server: a wait on a type no connected worker serves says so; `follow <id>` attaches to a
 * task; `--follow` survives a server restart; TASKWIRE_API_KEY authenticates; `--input @-`
 * reads stdin and `--wait | jq` sees the result alone; a URL without a scheme is one line;
 * `types` shows descriptions.
 */
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type TaskwireClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { spawnCli, spawnWatched } from "../support/cli-process.js";
import { testKey } from "../support/keys.js";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

/** Waits until the catalog lists `type` with at least `workers` connected workers (exactly 0 for 0). */
async function untilWorkers(client: TaskwireClient, type: string, workers: number): Promise<void> {
  await eventually(
    async () => (await client.listTypes()).some((entry) => entry.name === type && (workers === 0 ? entry.workerCount === 0 : entry.workerCount >= workers)),
    60_000,
    `${workers} workers of ${type}`,
  );
}

describe("waiting and following", () => {
  let server: TestServer;
  let client: TaskwireClient;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    client = createClient({ url: server.url });
  });

  afterAll(async () => {
    for (const worker of workers) worker.kill("SIGTERM");
    await Promise.all(workers.map((worker) => worker.exited));
    client.close();
    await server.stop();
  });

  it("says when no connected worker serves the type, and goes on once one connects", async () => {
    // test.echo is in the catalog (a worker declared it), but no worker is connected now.
    const first = spawnWorker(server.url);
    await untilWorkers(client, "test.echo", 1);
    first.kill("SIGTERM");
    await first.exited;
    await untilWorkers(client, "test.echo", 0);

    const wait = spawnCli(["--url", server.url, "submit", "test.echo", "--input", '{"answer": 42}', "--wait"]);
    const [line] = await wait.waitFor(/task \S+ is QUEUED in queue default: no connected worker serves test\.echo; it starts once one connects[^\n]*\n/);
    expect(line).toContain("(taskwire types lists what workers serve)");
    const worker = spawnWorker(server.url);
    workers.push(worker);
    expect(await wait.exited, wait.stderr).toBe(0);
    // Waiting, stdout is the result alone: the id went to stderr.
    expect(JSON.parse(wait.stdout)).toMatchObject({ answer: 42, attempt: 1 });
    expect(wait.stderr).toMatch(/^submitted task [0-9a-f-]{36}\n/);
  }, 120_000);

  it("shows a scheduled task's run time while it waits", async () => {
    const wait = spawnCli(["--url", server.url, "submit", "test.echo", "--delay", "10m", "--wait"]);
    await wait.waitFor(/task \S+ is SCHEDULED: it runs at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (9m\d+s|10m)\)\n/);
    wait.kill("SIGINT");
    expect(await wait.exited).toBe(130);
    expect(wait.stderr).toContain("stopped waiting; task");
  }, 60_000);

  it("follow <id> attaches to an existing task and prints its result", async () => {
    if (workers.length === 0) workers.push(spawnWorker(server.url));
    await untilWorkers(client, "test.sleep", 1);
    const handle = await client.submitByName("test.sleep", { ms: 1500, steps: 3 });
    const follow = spawnCli(["--url", server.url, "follow", handle.id]);
    expect(await follow.exited, follow.stderr).toBe(0);
    expect(follow.stderr).toContain("[SUCCEEDED] 100% 3/3 step 3 of 3");
    expect(JSON.parse(follow.stdout)).toMatchObject({ slept: 1500 });

    const unknown = spawnCli(["--url", server.url, "follow", "01a20353-a6f5-772f-85bf-3898c107de68"]);
    expect(await unknown.exited).toBe(1);
    expect(unknown.stderr).toMatch(/^error: NOT_FOUND: /);
  }, 60_000);

  it("--follow survives a restart of the server", async () => {
    if (workers.length === 0) workers.push(spawnWorker(server.url));
    await untilWorkers(client, "test.sleep", 1);
    const follow = spawnCli(["--url", server.url, "submit", "test.sleep", "--input", '{"ms": 6000, "steps": 6}', "--max-attempts", "3", "--follow"]);
    await follow.waitFor(/\[RUNNING\] \d+%/);
    // The same server again, on the same port and state.
    await server.server.close();
    await follow.waitFor(/lost the progress stream of task \S+ \(.*\); reconnecting\n/);
    const { port } = server.server;
    server = await startTestServer({ port, redisPrefix: server.config.redisPrefix, databaseSchema: server.config.databaseSchema });
    expect(await follow.exited, follow.stderr).toBe(0);
    expect(follow.stderr).toMatch(/reconnected: following task \S+ again\n/);
    // The attempt the restart cut short runs again (#2).
    expect(follow.stderr).toMatch(/\[SUCCEEDED( #\d+)?\] 100%/);
    expect(JSON.parse(follow.stdout)).toMatchObject({ slept: 6000 });
  }, 180_000);
});

describe("everyday flags", () => {
  let server: TestServer;
  let worker: Worker;
  let run: Promise<void>;
  const key = testKey("newcomer", "admin");

  const described = defineTask(
    { name: "rough.described", input: StructSchema, output: StructSchema, description: "Echoes its input, to show descriptions" },
    async (input) => input,
  );

  beforeAll(async () => {
    server = await startTestServer({ apiKeys: key.env });
    worker = new Worker({ url: server.url, tasks: [described], headers: key.headers, logger: silentLogger() });
    run = worker.run();
    const client = createClient({ url: server.url, headers: key.headers });
    await untilWorkers(client, "rough.described", 1);
    client.close();
  });

  afterAll(async () => {
    await worker.shutdown();
    await run;
    await server.stop();
  });

  it("TASKWIRE_API_KEY authenticates the CLI without -H", async () => {
    const without = spawnCli(["--url", server.url, "types"], { env: { TASKWIRE_API_KEY: undefined } });
    expect(await without.exited).toBe(1);
    expect(without.stderr).toMatch(/^error: UNAUTHENTICATED: /);

    const withKey = spawnCli(["--url", server.url, "types"], { env: { TASKWIRE_API_KEY: key.token } });
    expect(await withKey.exited, withKey.stderr).toBe(0);
    expect(withKey.stdout).toContain("rough.described");

    const flag = spawnCli(["--url", server.url, "--api-key", key.token, "types"], { env: { TASKWIRE_API_KEY: undefined } });
    expect(await flag.exited, flag.stderr).toBe(0);
  }, 60_000);

  it("types shows each type's description", async () => {
    const types = spawnCli(["--url", server.url, "types"], { env: { TASKWIRE_API_KEY: key.token } });
    expect(await types.exited, types.stderr).toBe(0);
    const [header, row] = types.stdout.split("\n");
    expect(header).toMatch(/WORKERS\s+DESCRIPTION$/);
    expect(row).toMatch(/^rough\.described .*\s1\s+Echoes its input, to show descriptions$/);
  }, 60_000);

  it("--input @- reads standard input, and --wait | jq gets the result alone", async () => {
    const script = `echo '{"from": "stdin", "n": 7}' | node bin/taskwire.js --url ${server.url} submit rough.described --input @- --wait | jq -r '.from + " " + (.n|tostring)'`;
    const shell = spawnWatched("bash", ["-c", `set -euo pipefail\n${script}`], { env: { TASKWIRE_API_KEY: key.token } });
    expect(await shell.exited, shell.stderr).toBe(0);
    expect(shell.stdout).toBe("stdin 7\n");
    expect(shell.stderr, shell.stderr).toMatch(/^submitted task [0-9a-f-]{36}\n$/);

    const notJson = spawnCli(["--url", server.url, "submit", "rough.described", "--input", "@-"], { env: { TASKWIRE_API_KEY: key.token }, stdin: "{nope" });
    expect(await notJson.exited).toBe(2);
    expect(notJson.stderr).toMatch(/^error: --input @-: standard input is not JSON: /);
  }, 60_000);

  it("a URL without a scheme is refused in one line that shows the URL meant", async () => {
    for (const [url, meant] of [
      ["127.0.0.1:50051", "http://127.0.0.1:50051"],
      ["localhost:50051", "http://localhost:50051"],
    ] as const) {
      const cli = spawnCli(["--url", url, "types"]);
      expect(await cli.exited).toBe(2);
      const [first, ...rest] = cli.stderr.split("\n");
      expect(first).toBe(`error: option '--url <url>' argument '${url}' is invalid. expected the server's URL with its scheme, like ${meant} (https:// for TLS)`);
      expect(rest.join("\n")).not.toMatch(/^\s+at /m);
    }
    const fromEnv = spawnCli(["types"], { env: { TASKWIRE_URL: "127.0.0.1:50051" } });
    expect(await fromEnv.exited).toBe(2);
    expect(fromEnv.stderr).toContain("from env 'TASKWIRE_URL' is invalid");
  }, 60_000);
});
