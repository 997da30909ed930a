/**
 * `taskwire worker start`: serves the task definitions of a module until SIGINT/SIGTERM (or,
 * with `--burst`, until the queues are empty). `taskwire worker status` lists the workers
 * (`workers.ts`).
 */
import { Option, type Command } from "commander";
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat } from "../../core/logger.js";
import { UsageError, type CliContext } from "../context.js";
import { collect, durationArg, integerIn, queueListArg } from "../options.js";
import { readTlsCa } from "../tls-ca.js";
import { loadTaskModules } from "../task-modules.js";
import { addWorkerListing } from "./workers.js";

interface StartFlags {
  tasks: string[];
  queues?: string[];
  concurrency?: number;
  prefetch?: number;
  burst?: boolean;
  workerId?: string;
  shutdownGrace?: number;
  metricsPort?: number;
  metricsHost?: string;
  logLevel: string;
  logFormat: LogFormat;
}

/** Adds `worker start` and `worker status` to `program`. */
export function registerWorkerCommands(program: Command, ctx: CliContext): void {
  const worker = program.command("worker").description("run workers, and list them");
  worker
    .command("start")
    .description("serve the tasks a module exports until SIGINT/SIGTERM")
    .requiredOption("-t, --tasks <module>", "a module exporting task definitions (.ts or .js; repeatable)", collect)
    .option("-q, --queues <names>", "queues served, strictly in this order, comma-separated (default: from the tasks)", queueListArg)
    .option("-c, --concurrency <n>", "tasks run at once (default: 10)", integerIn(1, 100_000))
    .option("--prefetch <n>", "tasks taken ahead, to start as running ones end; for short tasks (default: 0)", integerIn(0, 100_000))
    .option("--burst", "exit once the queues are empty and the worker is idle")
    .option("--worker-id <id>", "unique worker id (default: <host>-<pid>-<random>)")
    .option("--shutdown-grace <duration>", "how long running tasks may finish on shutdown before they are aborted (default: 10s)", durationArg)
    .option("--metrics-port <port>", "serve this worker's Prometheus metrics on GET /metrics at this port (0: a free one)", integerIn(0, 65535))
    .option("--metrics-host <host>", "interface of --metrics-port; 0.0.0.0 for a Prometheus on another host (default: 127.0.0.1)")
    .addOption(new Option("--log-level <level>", "log level").choices(LOG_LEVELS).env("TASKWIRE_LOG_LEVEL").default("info"))
    .addOption(
      new Option("--log-format <format>", "pretty (human lines), json (JSON lines) or auto (pretty when stderr is a terminal)")
        .choices(LOG_FORMATS)
        .env("TASKWIRE_LOG_FORMAT")
        .default("auto"),
    )
    .addHelpText("after", "\nThe first SIGINT/SIGTERM drains: no new tasks, running ones get the grace period. A second one exits at once.")
    .action(async (flags: StartFlags, command: Command) => {
      const globals = ctx.globals(command);
      if (globals.protocol !== "grpc") {
        throw new UsageError("workers speak gRPC over HTTP/2 (their stream is bidirectional): drop --protocol connect");
      }
      const tasks = await loadTaskModules(flags.tasks, ctx.cwd);
      const { Worker } = await import("../../worker/index.js");
      if (ctx.signal.aborted) return;
      const worker = new Worker({
        url: globals.url,
        headers: globals.header,
        ca: readTlsCa(globals, ctx.cwd),
        tasks,
        queues: flags.queues,
        concurrency: flags.concurrency,
        prefetch: flags.prefetch,
        burst: flags.burst ?? false,
        workerId: flags.workerId,
        shutdownGraceMs: flags.shutdownGrace,
        metricsPort: flags.metricsPort,
        metricsHost: flags.metricsHost,
        logger: createLogger(flags.logLevel, flags.logFormat),
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
