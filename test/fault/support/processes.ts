/**
 * Real `taskwire server` and `taskwire worker start` processes for the fault tests, on one
 * deployment (a Redis, a PostgreSQL, a key prefix and a schema of the test's own), each with its
 * output kept for the test to read and to show when it fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { ROOT } from "../../support/server.js";

/** Where a test's servers keep their state, and how fast they notice trouble. */
export interface Deployment {
  redisUrl: string;
  databaseUrl: string;
  /** A PostgreSQL schema of the test's own. */
  schema: string;
  /** A Redis key prefix of the test's own. */
  prefix: string;
  /** A worker silent this long loses its tasks; expired leases are reaped after it. @default "3s" */
  leaseTimeout?: string;
  /** @default "200ms" */
  heartbeatInterval?: string;
  /** @default "5s" */
  shutdownGrace?: string;
  /** More `TASKWIRE_*` settings of the servers (e.g. `TASKWIRE_DATABASE_TIMEOUT`). */
  serverEnv?: Record<string, string>;
}

/** A fresh schema name and key prefix for a deployment. */
export function uniqueNames(): { schema: string; prefix: string } {
  const id = randomBytes(6).toString("hex");
  return { schema: `taskwire_fault_${id}`, prefix: `twfault-${id}` };
}

/** A child process of a test. */
export interface TestProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** What it wrote on stdout and stderr (its logs), the last 2 MB. */
  readonly output: string;
  /** Resolves with its exit code, or the signal that ended it. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` unless it exited already. */
  kill(signal?: NodeJS.Signals): void;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const OUTPUT_LIMIT = 2_000_000;

function cli(name: string, args: string[], env: Record<string, string>): TestProcess {
  const child = spawn(process.execPath, ["bin/taskwire.js", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT / 2);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const kill = (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  return {
    name,
    child,
    get output() {
      return output;
    },
    exited,
    kill,
    async stop(signal = "SIGTERM") {
      kill(signal);
      return exited;
    },
  };
}

/** A server process, and the URL it listens on. */
export interface ServerProcess extends TestProcess {
  readonly url: string;
  readonly port: number;
}

/** Starts `taskwire server` on `port` (0: a free one); resolves once it listens. */
export async function startServerProcess(deployment: Deployment, name: string, port = 0): Promise<ServerProcess> {
  const server = cli(name, ["server", "--host", "127.0.0.1", "--port", String(port)], {
    TASKWIRE_REDIS_URL: deployment.redisUrl,
    TASKWIRE_DATABASE_URL: deployment.databaseUrl,
    TASKWIRE_DATABASE_SCHEMA: deployment.schema,
    TASKWIRE_REDIS_PREFIX: deployment.prefix,
    TASKWIRE_LEASE_TIMEOUT: deployment.leaseTimeout ?? "3s",
    TASKWIRE_HEARTBEAT_INTERVAL: deployment.heartbeatInterval ?? "200ms",
    TASKWIRE_SHUTDOWN_GRACE: deployment.shutdownGrace ?? "5s",
    TASKWIRE_TIMEOUT_GRACE: "1s",
    TASKWIRE_LOG_LEVEL: "info",
    ...deployment.serverEnv,
  });
  const listening = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const match = /listening on (http:\/\/\S+)/.exec(chunk.toString());
      if (match?.[1]) {
        server.child.stdout?.off("data", onData);
        resolve(match[1]);
      }
    };
    server.child.stdout?.on("data", onData);
    void server.exited.then((code) => reject(new Error(`${name} exited (${code}) before listening:\n${server.output}`)));
  });
  return Object.assign(server, { url: listening, port: Number(new URL(listening).port) });
}

/** Options of a worker process. */
export interface WorkerProcessOptions {
  /** Its worker id. */
  name: string;
  /** The file each finished execution is appended to (`TASKWIRE_FAULT_LOG`). */
  executionLog: string;
  /** @default 20 */
  concurrency?: number;
  /** @default "fault" */
  queues?: string;
}

/** Starts `taskwire worker start` serving `fault-tasks.ts` against `url`. */
export function startWorkerProcess(url: string, options: WorkerProcessOptions): TestProcess {
  return cli(
    options.name,
    [
      "--url", url,
      "worker", "start",
      "--tasks", "test/fault/support/fault-tasks.ts",
      "--worker-id", options.name,
      "--queues", options.queues ?? "fault",
      "--concurrency", String(options.concurrency ?? 20),
      "--shutdown-grace", "2s",
    ],
    { TASKWIRE_LOG_LEVEL: "info", TASKWIRE_FAULT_LOG: options.executionLog },
  );
}

/** The last `lines` lines of each process's output, for a failed test's message. */
export function tails(processes: readonly TestProcess[], lines = 30): string {
  return processes.map((p) => `--- ${p.name}\n${p.output.split("\n").slice(-lines).join("\n")}`).join("\n");
}

/** The JSON log lines of `process` whose message contains `text`, parsed. */
export function logEntries(process: TestProcess, text: string): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = [];
  for (const line of process.output.split("\n")) {
    if (!line.startsWith("{") || !line.includes(text)) continue;
    try {
      const entry: unknown = JSON.parse(line);
      if (typeof entry === "object" && entry !== null && String((entry as { msg?: unknown }).msg).includes(text)) {
        entries.push(entry as Record<string, unknown>);
      }
    } catch {
      // not a log line
    }
  }
  return entries;
}
