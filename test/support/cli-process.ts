/**
 * The CLI as a process whose stdout and stderr are watched while it runs: tests await a line
 * (an event), never a fixed time. `together` gives both streams one pipe, so their order is the
 * order a terminal would show.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { ROOT } from "./server.js";

/** A running `taskwire` process. */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr as they arrived (with `together`, in the order they were written). */
  readonly output: string;
  /** Resolves once `pattern` matches what the process wrote (`output`); rejects when it exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

/** Options of {@link spawnCli}. */
export interface SpawnCliOptions {
  env?: Record<string, string | undefined>;
  /** Written to its standard input, which is then closed. @default stdin is /dev/null */
  stdin?: string;
  /** Its own process group, which `kill` signals as a whole (for wrappers such as script(1)). @default false */
  group?: boolean;
  /** One pipe for stdout and stderr (through a shell's `2>&1`): `stdout` then holds both, `stderr` nothing. @default false */
  together?: boolean;
}

/** Starts `node bin/taskwire.js ...args` in the checkout. */
export function spawnCli(args: readonly string[], options: SpawnCliOptions = {}): CliProcess {
  const quoted = args.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ");
  return options.together
    ? spawnWatched("bash", ["-c", `exec node bin/taskwire.js ${quoted} 2>&1`], options)
    : spawnWatched(process.execPath, ["bin/taskwire.js", ...args], options);
}

/** Starts `command` in the checkout, watched as {@link CliProcess} says. */
export function spawnWatched(command: string, args: readonly string[], options: Omit<SpawnCliOptions, "together"> = {}): CliProcess {
  const env = { ...process.env, ...options.env };
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ["pipe", "pipe", "pipe"], detached: options.group ?? false });
  if (options.stdin === undefined) child.stdin?.end();
  else child.stdin?.end(options.stdin);
  let stdout = "";
  let stderr = "";
  let output = "";
  const listeners = new Set<() => void>();
  const changed = (): void => {
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
    changed();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    output += chunk.toString();
    changed();
  });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  let done = false;
  void exited.then(() => {
    done = true;
    changed();
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get output() {
      return output;
    },
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = output.match(pattern);
          if (match) finish(() => resolve(match));
          else if (done) finish(() => reject(new Error(`the CLI exited before printing ${pattern}:\n${output}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${pattern}:\n${output}`))), timeoutMs);
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    exited,
    kill(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (options.group && child.pid !== undefined) process.kill(-child.pid, signal);
      else child.kill(signal);
    },
  };
}
