/**
 * Servers and workers for the benchmarks, each in its own process (as in production), so the
 * benchmark's own client does not share their event loop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface Child {
  process: ChildProcess;
  /** Resolves once it exited. */
  exited: Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function cli(args: string[], env: Record<string, string | undefined>): Child {
  const child = spawn(process.execPath, ["bin/taskwire.js", ...args], {
    cwd: ROOT,
    env: { ...process.env, TASKWIRE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Starts `taskwire server` on a free port; resolves with its URL once it listens. */
export async function startServerProcess(env: Record<string, string | undefined>): Promise<Child & { url: string }> {
  const child = cli(["server", "--port", "0"], env);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.process.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    void child.exited.then(() => reject(new Error(`the server exited before listening:\n${out}`)));
  });
  return { ...child, url };
}

/** Starts `taskwire worker start` serving the benchmark's no-op task. */
export function startWorkerProcess(url: string, concurrency: number, extra: string[] = []): Child {
  return cli(["--url", url, "worker", "start", "--tasks", "bench/tasks.ts", "--concurrency", String(concurrency), ...extra], {});
}
