/**
 * The server's logs as a newcomer sees them (issue 21, "Logs"): pretty on a terminal and JSON
 * elsewhere, or as `--log-format` says; in the order they were written (the listening line after
 * the migrations); worded for the back end in use; the first start of the embedded default says
 * it creates the database; a taken port is found before any database is opened; expected
 * failures are one line without a stack. And each attempt's outcome in the worker's log.
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../src/client/index.js";
import { DATA_DIR_LOCK_FILE } from "../../src/store/data-dir-lock.js";
import { spawnCli, spawnWatched } from "../support/cli-process.js";
import { dropSchema, TEST_DATABASE_URL, uniqueSchemaName } from "../support/database.js";
import { eventually, spawnWorker, startTestServer, tempDataDir, type TestServer } from "../support/server.js";

const LISTENING = /taskwire server listening on http:\/\/127\.0\.0\.1:(\d+)\r?\n/;

/** Resolves once no running process holds `dataDir`'s lock (its file gone, or its pid no longer running). */
async function untilUnlocked(dataDir: string): Promise<void> {
  const lockFile = join(dataDir, DATA_DIR_LOCK_FILE);
  await eventually(
    async () => {
      const pid = Number((await readFile(lockFile, "utf8").catch(() => "")).trim());
      if (!(pid > 0)) return true;
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    60_000,
    "the server's data directory lock to be released",
  );
}

/** The lines of `output` that are log lines of pino's JSON. */
function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("server logs", () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await tempDataDir();
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("are JSON lines off a terminal, in order, worded for the embedded default, saying the database is being created", async () => {
    const server = spawnCli(["server", "--port", "0", "--data-dir", dataDir], { together: true, env: { TASKWIRE_LOG_FORMAT: undefined } });
    try {
      await server.waitFor(LISTENING, 120_000);
      const output = server.output;
      const before = output.slice(0, output.search(LISTENING));
      // Everything before the listening line is a log line, written before it.
      const logs = jsonLines(before);
      expect(before.split("\n").filter((line) => line !== "").length, output).toBe(logs.length);
      const messages = logs.map((line) => String(line.msg));
      expect(messages.some((m) => m.startsWith("creating the embedded database (first start")), output).toBe(true);
      expect(messages.some((m) => /^created the embedded database in \d+ ms$/.test(m)), output).toBe(true);
      expect(messages, output).toContain("applied database migrations");
      expect(messages, output).toContain("building the in-process dispatch index from the embedded database");
      expect(messages, output).toContain("taskwire server listening");
      // The embedded default has no Redis and no separate PostgreSQL to speak of.
      expect(output).not.toMatch(/in Redis|from PostgreSQL/);
    } finally {
      server.kill("SIGTERM");
      await server.exited;
    }
  }, 180_000);

  it("are pretty with --log-format pretty, and the database is opened, not created, the second time", async () => {
    const server = spawnCli(["server", "--port", "0", "--data-dir", dataDir, "--log-format", "pretty"], { together: true });
    try {
      await server.waitFor(LISTENING, 120_000);
      const before = server.output.slice(0, server.output.search(LISTENING));
      const lines = before.split("\n").filter((line) => line !== "");
      expect(lines.length).toBeGreaterThan(3);
      for (const line of lines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN): \S/);
      expect(before).toMatch(/INFO: embedded database opened \{.*"ms":\d+/);
      expect(before).not.toContain("creating the embedded database");
      expect(before).toMatch(/embedded database opened[^\n]*\n[\s\S]*INFO: taskwire server listening/);
    } finally {
      server.kill("SIGTERM");
      await server.exited;
    }
  }, 180_000);

  it.runIf(existsSync("/usr/bin/script"))("are pretty on a terminal by default, and JSON there with --log-format json", async () => {
    // script(1) gives the server a pseudo-terminal as stdout and stderr.
    const run = async (extra: string) => {
      const command = `node bin/taskwire.js server --port 0 --data-dir '${dataDir}' ${extra}`;
      const tty = spawnScript(command);
      try {
        await tty.waitFor(LISTENING, 120_000);
        return tty.output.slice(0, tty.output.search(LISTENING));
      } finally {
        tty.kill("SIGTERM");
        await tty.exited;
        // script(1) may end before the server it ran: the next start needs the data directory free.
        await untilUnlocked(dataDir);
      }
    };
    const pretty = await run("");
    expect(pretty).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*embedded database opened/);
    expect(pretty).not.toMatch(/^\{"level"/m);
    const json = await run("--log-format json");
    expect(json).toMatch(/^\{"level":30,.*"msg":"embedded database opened"\}\r?$/m);
  }, 240_000);

  it("find a taken port before opening the database, in one line naming --port", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    const fresh = join(dataDir, "never-created");
    try {
      const server = spawnCli(["server", "--port", String(port), "--data-dir", fresh]);
      expect(await server.exited).toBe(1);
      expect(server.stderr).toBe(
        `error: 127.0.0.1:${port} is already in use (another taskwire server?): stop it, or choose another port with --port (TASKWIRE_PORT)\n`,
      );
      expect(existsSync(join(fresh, "pgdata"))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);

  it("say in one line, without a stack, that PostgreSQL or Redis cannot be reached, and where", async () => {
    const postgres = spawnCli(["server", "--port", "0", "--redis-url", "redis://127.0.0.1:1", "--database-url", "postgres://tw:secret@127.0.0.1:1/none"]);
    expect(await postgres.exited).toBe(1);
    const pgErrors = postgres.stderr.split("\n").filter((line) => line.startsWith("error:"));
    expect(pgErrors).toEqual([
      "error: cannot reach PostgreSQL at postgres://tw:***@127.0.0.1:1/none: connect ECONNREFUSED 127.0.0.1:1 (is it running? TASKWIRE_DATABASE_URL, --database-url)",
    ]);
    expect(postgres.stderr).not.toMatch(/^\s+at /m);

    const schema = uniqueSchemaName();
    try {
      const redis = spawnCli(["server", "--port", "0", "--redis-url", "redis://127.0.0.1:1", "--database-url", TEST_DATABASE_URL, "--database-schema", schema]);
      expect(await redis.exited).toBe(1);
      const lines = redis.stderr.split("\n").filter((line) => line !== "");
      expect(lines.at(-1)).toBe("error: cannot reach Redis at redis://127.0.0.1:1 (is it running? TASKWIRE_REDIS_URL, --redis-url)");
      expect(lines.filter((line) => line.startsWith("error:"))).toHaveLength(1);
      expect(redis.stderr).not.toMatch(/^\s+at /m);
    } finally {
      await dropSchema(schema);
    }
  }, 120_000);
});

/** `command` under script(1): a pseudo-terminal for its stdout and stderr. */
function spawnScript(command: string) {
  return spawnWatched("script", ["-qfec", command, "/dev/null"], { env: { TASKWIRE_LOG_FORMAT: undefined }, group: true });
}

describe("the worker's log", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server.stop();
  });

  it("has each attempt's outcome: info when it succeeded, warn with the error when it failed", async () => {
    const worker = spawnWorker(server.url);
    const client = createClient({ url: server.url });
    try {
      await eventually(async () => (await client.listTypes()).some((type) => type.name === "test.echo" && type.workerCount > 0), 60_000, "the worker");
      const ok = await client.submitByName("test.echo", { hello: "world" });
      const bad = await client.submitByName("test.broken", {});
      await ok.wait();
      await bad.wait();
      const lines = await eventually(async () => {
        const outcomes = jsonLines(worker.logs).filter((line) => line.outcome !== undefined);
        return outcomes.length >= 2 ? outcomes : undefined;
      }, 30_000, "two outcome lines");
      const succeeded = lines.find((line) => line.taskId === ok.id);
      expect(succeeded).toMatchObject({ level: 30, outcome: "succeeded", attempt: 1, taskType: "test.echo" });
      expect(String(succeeded?.msg)).toMatch(/^test\.echo attempt 1 of \d+ succeeded in \d/);
      const failed = lines.find((line) => line.taskId === bad.id);
      expect(failed).toMatchObject({
        level: 40,
        outcome: "failed",
        errorKind: "TASK_ERROR",
        retryable: false,
        error: { name: "NonRetryableError", message: "the input can never work" },
      });
      expect(String(failed?.msg)).toBe("test.broken attempt 1 of 6 failed: NonRetryableError: the input can never work");
      expect(String((failed?.error as { stack?: string }).stack)).toContain("NonRetryableError: the input can never work\n    at ");
    } finally {
      client.close();
      worker.kill("SIGTERM");
      await worker.exited;
    }
  }, 120_000);
});
