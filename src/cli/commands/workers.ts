/**
 * `taskwire workers` (also `worker status`): the fleet's workers; `taskwire workers drain <id>`
 * asks one to finish its tasks and go, on whatever server holds its stream.
 */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatWorkerTable, plural, workersToJson, workerToJson } from "../fleet-format.js";
import { jsonLine } from "../format.js";
import { queueArg } from "../options.js";

interface ListFlags {
  all?: boolean;
  queue?: string;
  json?: boolean;
}

/**
 * Makes `command` list the workers: used by `workers` and by `worker status`, which print the
 * same thing.
 */
export function addWorkerListing(command: Command, ctx: CliContext): Command {
  return command
    .option("-a, --all", "also list the workers that disconnected")
    .option("-q, --queue <queue>", "only workers serving this queue", queueArg)
    .option("--json", "print the workers as proto JSON")
    .action(async (flags: ListFlags, command: Command) => {
      const workers = await ctx
        .client(command)
        .admin.listWorkers({ includeDisconnected: flags.all ?? false, queue: flags.queue }, { signal: ctx.signal });
      if (flags.json) {
        ctx.stdout.write(jsonLine(workersToJson(workers)));
        return;
      }
      ctx.stdout.write(formatWorkerTable(workers, Date.now()));
      if (workers.length === 0) {
        const which = [flags.all ? "" : "connected", flags.queue ? `serving ${flags.queue}` : ""].filter((part) => part !== "");
        ctx.stderr.write(`no workers${which.length > 0 ? ` ${which.join(" ")}` : ""}\n`);
      }
    });
}

/** Adds `workers` and `workers drain` to `program`. */
export function registerWorkersCommands(program: Command, ctx: CliContext): void {
  const workers = addWorkerListing(program.command("workers").description("list the workers connected to the fleet"), ctx);
  workers
    .command("drain")
    .description("ask a connected worker to finish its running tasks and take no new ones")
    .argument("<id>", "the worker's id (see `taskwire workers`)")
    .option("-r, --reason <text>", "why, sent with the drain request")
    .option("--json", "print the worker as proto JSON")
    .action(async (id: string, flags: { reason?: string; json?: boolean }, command: Command) => {
      const worker = await ctx.client(command).admin.drainWorker(id, flags.reason, { signal: ctx.signal });
      if (flags.json) {
        ctx.stdout.write(jsonLine(workerToJson(worker)));
        return;
      }
      const holds = worker.slotsInUse > 0 ? `it finishes its ${plural(worker.slotsInUse, "running task")} and takes no new ones` : "it takes no new tasks";
      ctx.stdout.write(`draining worker ${worker.id}: ${holds}\n`);
    });
}
