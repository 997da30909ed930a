/**
 * `taskwire worker start`: serves the task definitions of a module until SIGINT/SIGTERM (or,
 * with `--burst`, until the queues are empty). `taskwire worker status` lists the workers
 * (`workers.ts`).
 */
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import { loadWorkerConfig, WORKER_SETTINGS } from "../../config/worker-config.js";
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from "../../core/logger.js";
import { UsageError, type CliContext } from "../context.js";
import { collect, durationArg, integerIn, queueListArg } from "../options.js";
import { readTlsCa } from "../tls-ca.js";
import { loadTaskModules } from "../task-modules.js";
import { addWorkerListing } from "./workers.js";

interface StartFlags {
  tasks?: string[];
  queues?: string[];
  concurrency?: number;
  prefetch?: number;
  burst?: boolean;
  workerId?: string;
  shutdownGrace?: number;
  metricsPort?: number;
  metricsHost?: string;
  processes?: number;
  idleExit?: number;
  logLevel?: string;
  logFormat?: LogFormat;
}

/** A flag's help with the environment variable that gives it too (`src/config/worker-config.ts`). */
function help(key: keyof typeof WORKER_SETTINGS): string {
  return `${WORKER_SETTINGS[key].description} [env: ${WORKER_SETTINGS[key].env}]`;
}

/** Adds `worker start` and `worker status` to `program`. */
export function registerWorkerCommands(program: Command, ctx: CliContext): void {
  const worker = program.command("worker").description("run workers, and list them");
  worker
    .command("start")
    .description("serve the tasks a module exports until SIGINT/SIGTERM")
    .option("-t, --tasks <module>", `${help("tasks")} (repeatable; required)`, collect)
    .option("-q, --queues <names>", help("queues"), queueListArg)
    .option("-c, --concurrency <n>", help("concurrency"), integerIn(1, 100_000))
    .option("--prefetch <n>", help("prefetch"), integerIn(0, 100_000))
    .option("--burst", help("burst"))
    .option("--worker-id <id>", help("workerId"))
    .option("--shutdown-grace <duration>", help("shutdownGraceMs"), durationArg)
    .option("--metrics-port <port>", help("metricsPort"), integerIn(0, 65535))
    .option("--metrics-host <host>", help("metricsHost"))
    .option("-p, --processes <n>", help("processes"), integerIn(1, 256))
    .option("--idle-exit <duration>", help("idleExitMs"), durationArg)
    .addOption(new Option("--log-level <level>", `${help("logLevel")} (default: info)`).choices(LOG_LEVELS))
    .addOption(new Option("--log-format <format>", `${help("logFormat")} (default: auto)`).choices(LOG_FORMATS))
    .addHelpText("after", "\nThe first SIGINT/SIGTERM drains: no new tasks, running ones get the grace period. A second one exits at once.")
    .action(async (flags: StartFlags, command: Command) => {
      const globals = ctx.globals(command);
      if (globals.protocol !== "grpc") {
        throw new UsageError("workers speak gRPC over HTTP/2 (their stream is bidirectional): drop --protocol connect");
      }
      const config = loadWorkerConfig(ctx.env, {
        tasks: flags.tasks,
        queues: flags.queues,
        concurrency: flags.concurrency,
        prefetch: flags.prefetch,
        burst: flags.burst,
        workerId: flags.workerId,
        shutdownGraceMs: flags.shutdownGrace,
        metricsPort: flags.metricsPort,
        metricsHost: flags.metricsHost,
        processes: flags.processes,
        idleExitMs: flags.idleExit,
        logLevel: flags.logLevel,
        logFormat: flags.logFormat,
      });
      const tasks = await loadTaskModules(config.tasks, ctx.cwd);
      const { Worker } = await import("../../worker/index.js");
      if (ctx.signal.aborted) return;
      const worker = new Worker({
        url: globals.url,
        headers: globals.header,
        ca: readTlsCa(globals, ctx.cwd),
        tasks,
        queues: config.queues,
        concurrency: config.concurrency,
        prefetch: config.prefetch,
        burst: config.burst,
        workerId: config.workerId,
        shutdownGraceMs: config.shutdownGraceMs,
        metricsPort: config.metricsPort,
        metricsHost: config.metricsHost,
        processes: config.processes,
        // The pool processes load the same modules (README "Worker pool").
        taskModules: config.processes === undefined ? undefined : config.tasks.map((path) => resolve(ctx.cwd, path)),
        idleExitMs: config.idleExitMs,
        logger: createLogger(config.logLevel, config.logFormat),
      });
      ctx.stdout.write(`worker ${worker.id} serving ${tasks.map((task) => task.name).join(", ")} from ${globals.url}\n`);
      const shutdown = (): void => {
        ctx.stderr.write("shutting down: waiting for running tasks (signal again to stop at once)\n");
        worker.shutdown().catch((error: unknown) => ctx.stderr.write(`shutdown failed: ${String(error)}\n`));
      };
      ctx.signal.addEventListener("abort", shutdown, { once: true });
      try {
        await worker.run();
      } finally {
        ctx.signal.removeEventListener("abort", shutdown);
      }
    });
  addWorkerListing(worker.command("status").description("list the workers (same as `taskwire workers`)"), ctx);
}
