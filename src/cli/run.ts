/**
 * One run of the CLI: parses the arguments, runs the command, and turns every way it can end
 * into an exit status and a one-line message. The one error boundary of the CLI.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { CommanderError } from "commander";
import { createTaskwireRegistry, TaskCancelledError, TaskFailedError } from "../client/index.js";
import { ConfigError } from "../config/config.js";
import { codeName } from "./code-name.js";
import { ExitCode, UsageError, type CliContext, type OutputStream } from "./context.js";
import { clientFactory, createProgram, globalOptions } from "./program.js";

export { codeName };

/** Where a run reads and writes, and what stops it. */
export interface RunOptions {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Standard input, for `--input @-`. @default none */
  stdin?: AsyncIterable<string | Uint8Array>;
  /** Aborted on the first SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * Runs `taskwire` with `args` (without the node and script paths).
 * @returns the exit status; see {@link ExitCode}.
 */
export async function runCli(args: readonly string[], options: RunOptions): Promise<number> {
  const clients = clientFactory(options.cwd);
  const ctx: CliContext = {
    stdout: options.stdout,
    stderr: options.stderr,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin,
    signal: options.signal,
    registry: createTaskwireRegistry(),
    exitCode: ExitCode.ok,
    globals: globalOptions,
    client: (command) => clients.client(command),
  };
  const program = createProgram(ctx);
  try {
    await program.parseAsync([...args], { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    return reportError(error, ctx, () => globalOptions(program).url);
  } finally {
    clients.close();
  }
}

/** Prints `error` as one line on stderr and returns the exit status it means. */
export function reportError(error: unknown, ctx: Pick<CliContext, "stderr" | "signal">, url: () => string): number {
  // Commander has printed its own message (or the help) already.
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  if (ctx.signal.aborted && isCancellation(error)) return ExitCode.interrupted;
  if (error instanceof UsageError || isConfigError(error) || isWorkerConfigError(error)) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return ExitCode.usage;
  }
  if (isExpectedFailure(error)) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return ExitCode.error;
  }
  if (error instanceof ConnectError) {
    // Only a call that reached no server gets the hint; a server's own UNAVAILABLE (PostgreSQL
    // down, draining) carries its reason in a header.
    const reachedServer = error.metadata.has("taskwire-reason") || error.details.length > 0;
    const hint = error.code === Code.Unavailable && !reachedServer ? ` (is a Taskwire server running at ${url()}?)` : "";
    ctx.stderr.write(`error: ${codeName(error.code)}: ${error.rawMessage}${hint}\n`);
    return ExitCode.error;
  }
  if (error instanceof TaskFailedError) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return ExitCode.taskFailed;
  }
  if (error instanceof TaskCancelledError) {
    ctx.stderr.write(`error: ${error.message}\n`);
    return ExitCode.taskCancelled;
  }
  ctx.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  if (error instanceof Error && error.stack && !(error instanceof RangeError)) {
    ctx.stderr.write(`${error.stack.split("\n").slice(1).join("\n")}\n`);
  }
  return ExitCode.error;
}


function isCancellation(error: unknown): boolean {
  return (
    (error instanceof ConnectError && error.code === Code.Canceled) ||
    (error instanceof Error && error.name === "AbortError")
  );
}

/**
 * Failures that are expected and say all there is to say in their message, printed as one line
 * without a stack: a server that cannot start (port taken, PostgreSQL or Redis unreachable:
 * `ServerStartError`), storage unreachable later (`UnavailableError`), a data directory another
 * process holds (`DataDirLockedError`), a progress stream that stayed down
 * (`ProgressStreamLostError`). Recognised by name, so client commands need not load
 * the server.
 */
function isExpectedFailure(error: unknown): error is Error {
  return error instanceof Error && ["ServerStartError", "UnavailableError", "DataDirLockedError", "ProgressStreamLostError"].includes(error.name);
}

/**
 * A bad setting. By name as well: the compiled CLI bundles its own copy of the configuration
 * module (scripts/build.mjs), and a ConfigError from the server loaded beside the bundle is an
 * instance of the other copy's class.
 */
function isConfigError(error: unknown): error is Error {
  return error instanceof ConfigError || (error instanceof Error && error.name === "ConfigError");
}

/** The worker SDK's invalid-options error, recognised by name so client commands need not load the SDK. */
function isWorkerConfigError(error: unknown): error is Error {
  return error instanceof Error && error.name === "WorkerConfigError";
}
