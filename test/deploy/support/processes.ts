/**
 * Processes of the deploy tests: a container's command and environment run on this machine, and
 * what the local machine changes in that environment (its Redis and PostgreSQL, free ports,
 * paths of the image's file system) written down in one place.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";

/** A process whose output is kept, to wait for a line and to show when a test fails. */
export interface Watched {
  child: ChildProcess;
  readonly output: string;
  exited: Promise<number | string>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `command` with exactly `env` (nothing of this process's environment but what `env`
 * names: a container sees its own environment only).
 */
export function startProcess(command: readonly string[], env: Record<string, string>, cwd: string): Watched {
  const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => {
    done = true;
    for (const listener of listeners) listener();
  });
  return {
    child,
    get output() {
      return output;
    },
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output.slice(-3000)}`)), timeoutMs);
        const check = (): void => {
          if (pattern.test(output)) finish();
          else if (done) finish(new Error(`exited before ${pattern}:\n${output.slice(-3000)}`));
        };
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs `command` to its end with exactly `env`. */
export async function runProcess(command: readonly string[], env: Record<string, string>, cwd: string): Promise<{ code: number | string; output: string }> {
  const process = startProcess(command, env, cwd);
  const code = await process.exited;
  return { code, output: process.output };
}

/** Stops `process` with SIGTERM, as a container runtime does, and waits for it. */
export async function stopProcess(process: Watched | undefined): Promise<void> {
  if (!process || process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.child.kill("SIGTERM");
  await process.exited;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** What this machine has instead of a container's network and file system. */
export interface LocalMachine {
  /** Redis and PostgreSQL URLs, and a key prefix and schema of the test's own. */
  redisUrl: string;
  redisPrefix: string;
  databaseUrl: string;
  databaseSchema: string;
  /** Host names of services (compose service names, Kubernetes Services) → `127.0.0.1:<port>` of the process serving them. */
  hosts: Record<string, string>;
  /** Container ports → the free ports the local processes use instead. */
  ports: Record<string, number>;
  /** Absolute paths of the image (or mounted secrets) → where they are here. */
  paths: Record<string, string>;
}

/**
 * A container's environment as it runs here: Redis and PostgreSQL URLs become the local ones
 * (each test with its own prefix and schema), interfaces 0.0.0.0 become 127.0.0.1 (nothing here
 * listens beyond loopback), ports and service host names become the local processes', the
 * image's paths their folders here. Every other variable is passed as written.
 */
export function localEnvironment(env: Record<string, string>, machine: LocalMachine): Record<string, string> {
  const local: Record<string, string> = {};
  for (const [name, written] of Object.entries(env)) {
    let value = written;
    if (name === "TASKWIRE_REDIS_URL") value = machine.redisUrl;
    else if (name === "TASKWIRE_DATABASE_URL") value = machine.databaseUrl;
    else if (value === "0.0.0.0") value = "127.0.0.1";
    else if ((name === "TASKWIRE_PORT" || name === "TASKWIRE_METRICS_PORT") && machine.ports[value] !== undefined) value = String(machine.ports[value]);
    for (const [host, local] of Object.entries(machine.hosts)) value = value.replace(`//${host}/`, `//${local}/`).replace(`//${host}`, `//${local}`);
    for (const [path, here] of Object.entries(machine.paths)) if (value.startsWith(path)) value = here + value.slice(path.length);
    local[name] = value;
  }
  if (local.TASKWIRE_REDIS_URL !== undefined) local.TASKWIRE_REDIS_PREFIX = machine.redisPrefix;
  if (local.TASKWIRE_DATABASE_URL !== undefined) local.TASKWIRE_DATABASE_SCHEMA = machine.databaseSchema;
  return local;
}

/** A command's arguments as they run here: service host names and ports become the local processes'. */
export function localArgs(args: readonly string[], machine: LocalMachine): string[] {
  return args.map((arg) => {
    let value = arg;
    for (const [host, local] of Object.entries(machine.hosts)) value = value.replace(`//${host}`, `//${local}`);
    return value;
  });
}
