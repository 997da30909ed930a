/**
 * The processes of a benchmark: the Taskwire server (`taskwire server`, as in production) and
 * the worker processes of both systems. The bench's own client never shares their event loop.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { HostMessage, HostReply, HostRequest, WorkerTarget } from "./workers/protocol.js";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Log level of the server and worker processes: errors only, unless TASKWIRE_BENCH_LOG_LEVEL
 * says otherwise (the server warns at every start that authentication is off on loopback).
 */
const LOG_LEVEL = process.env.TASKWIRE_BENCH_LOG_LEVEL ?? "error";

/**
 * With TASKWIRE_BENCH_PROFILE_DIR set (`npm run bench -- --profile <dir>`), the server and worker
 * processes write V8 CPU profiles there when they exit (`node --cpu-prof`; open them in Chrome
 * DevTools or speedscope).
 */
function profileArgs(): string[] {
  const dir = process.env.TASKWIRE_BENCH_PROFILE_DIR;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

/** Resident memory of a process, from `/proc/<pid>/status`: now (VmRSS) and its peak (VmHWM), in bytes. */
export interface Rss {
  current: number;
  peak: number;
}

/** Reads `/proc/<pid>/status` (Linux); undefined where there is no /proc or the process is gone. */
export async function readRss(pid: number | undefined): Promise<Rss | undefined> {
  if (pid === undefined) return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
    return { current: kib("VmRSS"), peak: kib("VmHWM") };
  } catch {
    return undefined;
  }
}

function exitedPromise(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** A `taskwire server` process. */
export interface ServerProcess {
  readonly url: string;
  readonly pid: number | undefined;
  /** SIGTERM (graceful close), then waits for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `taskwire server --port 0` with `env` added to the bench's environment (undefined
 * values unset a variable); resolves with its URL once it listens.
 */
export async function startServerProcess(env: Record<string, string | undefined>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...profileArgs(), "bin/taskwire.js", "server", "--port", "0"], {
    cwd: ROOT,
    env: { ...process.env, TASKWIRE_LOG_LEVEL: LOG_LEVEL, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = exitedPromise(child);
  // Forward the server's stderr but its expected "shutting down" line.
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    const lines = text.split("\n").filter((line) => line !== "" && !line.startsWith("shutting down"));
    if (lines.length > 0) process.stderr.write(`${lines.join("\n")}\n`);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (https?:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    void exited.then(() => reject(new Error(`the Taskwire server exited before listening:\n${out}`)));
  });
  child.stdout.resume();
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Which worker process: see `workers/taskwire-worker.ts`, `workers/bullmq-worker.ts` and `workers/peers-worker.ts`. */
export type WorkerKind = "taskwire" | "bullmq" | "peers";

/**
 * A worker process, driven over IPC: start a worker on a queue, learn when it finished N tasks,
 * stop it. See `workers/protocol.ts`.
 */
export class WorkerHost {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 0;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = exitedPromise(child);
    child.on("message", (reply: HostReply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(new Error(`worker process: ${reply.error}`));
    });
    void this.#exited.then(() => {
      for (const pending of this.#pending.values()) pending.reject(new Error("the worker process exited"));
      this.#pending.clear();
    });
  }

  /** Forks the worker process of `kind` (TypeScript through tsx). */
  static start(kind: WorkerKind): WorkerHost {
    const child = fork(`bench/workers/${kind}-worker.ts`, [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx", ...profileArgs()],
      env: { ...process.env, TASKWIRE_LOG_LEVEL: LOG_LEVEL },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    return new WorkerHost(child);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Starts a worker serving `queue`; resolves once it is connected. */
  async startWorker(target: WorkerTarget, queue: string, concurrency: number, task: "noop" | "stamp" = "noop", prefetch = 0): Promise<void> {
    await this.#request({ op: "start", target, queue, concurrency, task, prefetch });
  }

  /** True once the worker finished `count` tasks since it started; false after `timeoutMs`. */
  async finished(count: number, timeoutMs: number): Promise<boolean> {
    return (await this.#request({ op: "finished", count, timeoutMs })) === true;
  }

  /** The peers' worker: finish times of this run's handler calls ranked `first` and `last`. */
  async finishTimes(first: number, last: number): Promise<[number, number]> {
    const times = (await this.#request({ op: "finishTimes", first, last })) as [number | null, number | null];
    if (typeof times[0] !== "number" || typeof times[1] !== "number") throw new Error(`no handler finish ranked ${first} or ${last}`);
    return [times[0], times[1]];
  }

  /** Stops the worker gracefully (running tasks finish and are acknowledged). */
  async stopWorker(): Promise<void> {
    await this.#request({ op: "stop" });
  }

  rss(): Promise<Rss | undefined> {
    return readRss(this.#child.pid);
  }

  /** Ends the process (closing IPC makes it exit). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#child.connected) this.#child.disconnect();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 15_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #request(request: HostRequest): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.send({ id, request } satisfies HostMessage, (error) => {
        if (!error) return;
        this.#pending.delete(id);
        reject(error);
      });
    });
  }
}
