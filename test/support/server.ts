/**
 * A real Taskwire server for end-to-end tests, on port 0, with its own PostgreSQL schema and
 * Redis key prefix so test files run in parallel; and real worker processes started through
 * the CLI.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadServerConfig, type ServerConfig } from "../../src/config/config.js";
import { silentLogger, type Logger } from "../../src/core/logger.js";
import { startServer, type ServerExtensions, type TaskwireServer } from "../../src/server/index.js";
import { dropSchema, TEST_DATABASE_URL, uniqueSchemaName } from "./database.js";
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniquePrefix } from "./redis.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface TestServer {
  server: TaskwireServer;
  config: ServerConfig;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stops the server and removes its schema and keys. */
  stop(): Promise<void>;
}

/** Settings that keep tests quick: short heartbeats and leases. */
export const FAST: Partial<ServerConfig> = {
  heartbeatIntervalMs: 200,
  leaseTimeoutMs: 3_000,
  timeoutGraceMs: 500,
  shutdownGraceMs: 2_000,
};

/** The storage back ends every end-to-end suite runs against. */
export const BACKENDS = ["redis+postgres", "embedded"] as const;
export type Backend = (typeof BACKENDS)[number];

/** A fresh temporary data directory for the embedded default. */
export function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "taskwire-test-"));
}

/**
 * Starts a server on fresh state: its own PostgreSQL schema and Redis prefix, or its own
 * embedded data directory. `overrides` may name existing ones, to restart on the same state;
 * `stop()` then still removes them.
 */
export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
  logger: Logger = silentLogger(),
  backend: Backend = "redis+postgres",
  extensions: ServerExtensions = {},
): Promise<TestServer> {
  const storage: Partial<ServerConfig> =
    backend === "embedded"
      ? { redisUrl: undefined, databaseUrl: undefined, dataDir: overrides.dataDir ?? (await tempDataDir()) }
      : { redisUrl: TEST_REDIS_URL, redisPrefix: uniquePrefix(), databaseUrl: TEST_DATABASE_URL, databaseSchema: uniqueSchemaName() };
  const config: ServerConfig = { ...loadServerConfig({}), ...FAST, port: 0, ...storage, ...overrides };
  const server = await startServer(config, logger, extensions);
  return {
    server,
    config,
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      await server.close();
      if (backend === "embedded") await rm(config.dataDir, { recursive: true, force: true });
      else await Promise.all([dropSchema(config.databaseSchema), deleteKeysWithPrefix(config.redisPrefix)]);
    },
  };
}

/** A worker process run by the CLI. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Everything it wrote to stderr (its logs). */
  readonly logs: string;
  /** Resolves with the exit code (or signal) once it exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts `taskwire worker start --tasks test/fixtures/tasks.ts` against `url`. */
export function spawnWorker(url: string, args: string[] = []): WorkerProcess {
  const child = spawn(
    process.execPath,
    ["bin/taskwire.js", "worker", "start", "--url", url, "--tasks", "test/fixtures/tasks.ts", ...args],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TASKWIRE_LOG_LEVEL: "info" } },
  );
  let logs = "";
  child.stderr?.on("data", (chunk: Buffer) => (logs += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => (logs += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return {
    child,
    get logs() {
      return logs;
    },
    exited,
    kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["bin/taskwire.js", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Polls `check` until it returns a value other than undefined/false, for conditions that have
 * no event to await (another process's state). Fails after `timeoutMs`.
 */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
