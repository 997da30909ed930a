/**
 * `taskwire dev`: a server and, with `--examples` or `--tasks`, a worker in the same process
 * and terminal — the quick start in one command. On the embedded default unless both URLs are set.
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { rootCertificates } from "node:tls";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadServerConfig, storageMode } from "../../config/config.js";
import { createLogger } from "../../core/logger.js";
import type { CliContext } from "../context.js";
import { collect, integerIn } from "../options.js";
import { loadTaskModules } from "../task-modules.js";
import { readTlsCa } from "../tls-ca.js";
import { addServerFlags, configOverrides, SERVER_FLAGS, serverAddress } from "./server.js";

/**
 * The example tasks shipped with Taskwire: examples/tasks.ts when the CLI runs from its sources,
 * the compiled dist/examples/tasks.js in the package (package.json's `#example-tasks` import,
 * which resolves from wherever the compiled CLI sits, bundled or not).
 */
export const EXAMPLE_TASKS = import.meta.url.endsWith(".ts")
  ? fileURLToPath(new URL("../../../examples/tasks.ts", import.meta.url))
  : fileURLToPath(import.meta.resolve("#example-tasks"));

interface DevFlags extends Record<string, unknown> {
  examples?: boolean;
  tasks?: string[];
  concurrency?: number;
}

/** Adds `dev` to `program`. */
export function registerDevCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command("dev")
    .description("run a server and, with --examples or --tasks, a worker in the same terminal")
    .option("--examples", "serve the example tasks (examples/tasks.ts)")
    .option("-t, --tasks <module>", "also serve the task definitions of a module (repeatable)", collect)
    .option("-c, --concurrency <n>", "tasks the worker runs at once (default: 10)", integerIn(1, 100_000))
    .addHelpText("after", "\nThe first SIGINT/SIGTERM stops the worker (running tasks get their grace period), then the server.");
  addServerFlags(
    command,
    SERVER_FLAGS.map((flag) => flag.key),
  ).action(async (flags: DevFlags, command: Command) => {
    const config = loadServerConfig(ctx.env, configOverrides(flags));
    storageMode(config);
    const logger = createLogger(config.logLevel, config.logFormat);
    const modules = [...(flags.examples ? [EXAMPLE_TASKS] : []), ...(flags.tasks ?? [])];
    const tasks = modules.length > 0 ? await loadTaskModules(modules, ctx.cwd) : [];
    const { startServer } = await import("../../server/index.js");
    const server = await startServer(config, logger);
    const url = serverAddress(config.host === "0.0.0.0" ? "127.0.0.1" : config.host, server.port, config.tlsCert !== undefined);
    ctx.stdout.write(`taskwire server listening on ${url}\n`);
    let run: Promise<void> | undefined;
    let stopWorker = async (): Promise<void> => {};
    if (tasks.length > 0) {
      const { Worker } = await import("../../worker/index.js");
      // With API keys, the worker needs one too (`taskwire -H "authorization: Bearer <token>" dev`);
      // with TLS, it trusts --tls-ca, else the system's authorities and the server's own certificate.
      const globals = ctx.globals(command);
      const ca = readTlsCa(globals, ctx.cwd) ?? (config.tlsCert === undefined ? undefined : [...rootCertificates, await readFile(config.tlsCert, "utf8")]);
      const worker = new Worker({ url, tasks, concurrency: flags.concurrency, logger, headers: globals.header, ca });
      run = worker.run();
      stopWorker = () => worker.shutdown();
      ctx.stdout.write(`worker ${worker.id} serving ${tasks.map((t) => t.name).join(", ")}\n`);
    }
    if (!ctx.signal.aborted) await once(ctx.signal, "abort");
    ctx.stderr.write("shutting down (signal again to stop at once)\n");
    await stopWorker();
    await run;
    await server.close();
  });
}
