/**
 * `taskwire queues` (also `queue status`) and `taskwire queue stats|pause|resume|purge|retry`:
 * the queues of the fleet and what an operator does to one. `queue clear` is `queue purge`,
 * `queue servers` is `servers`, as the seeds spelled them.
 */
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { PurgeQueueResponseSchema, RetryTasksResponseSchema } from "../../../gen/taskwire/v1/admin_service_pb.js";
import type { CliContext } from "../context.js";
import { formatQueueDetails, formatQueueTable, plural, queuesToJson, queueToJson } from "../fleet-format.js";
import { jsonLine } from "../format.js";
import { queueArg, timeArg } from "../options.js";
import { addServerListing } from "./servers.js";
import { retriedText } from "./tasks-bulk.js";

interface PurgeFlags {
  type?: string;
  createdBefore?: Date;
  reason?: string;
  json?: boolean;
}

/** Makes `command` list the queues: used by `queues` and by `queue status`, which print the same thing. */
export function addQueueListing(command: Command, ctx: CliContext): Command {
  return command.option("--json", "print the queues as proto JSON").action(async (flags: { json?: boolean }, command: Command) => {
    const queues = await ctx.client(command).admin.listQueues({ signal: ctx.signal });
    ctx.stdout.write(flags.json ? jsonLine(queuesToJson(queues)) : formatQueueTable(queues));
    if (!flags.json && queues.length === 0) ctx.stderr.write("no queues yet: a queue appears when a task or a worker names it\n");
  });
}

/** Adds `queues` and the `queue` commands to `program`. */
export function registerQueueCommands(program: Command, ctx: CliContext): void {
  addQueueListing(
    program.command("queues").description("list the queues: paused or not, depth, oldest queued task, workers, outcomes of the last minute and hour"),
    ctx,
  );

  const queue = program.command("queue").description("inspect and operate one queue");
  addQueueListing(queue.command("status").description("list the queues (same as `taskwire queues`)"), ctx);
  addServerListing(queue.command("servers").description("list the servers of the fleet (same as `taskwire servers`)"), ctx);

  queue
    .command("stats")
    .description("one queue's depth, oldest queued task, workers and outcomes")
    .argument("<queue>", "the queue's name", queueArg)
    .option("--json", "print the queue as proto JSON")
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const found = await ctx.client(command).admin.getQueue(name, { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(queueToJson(found)) : formatQueueDetails(found));
    });

  queue
    .command("pause")
    .description("stop dispatch from a queue on every server (submissions are still accepted, running tasks go on)")
    .argument("<queue>", "the queue's name", queueArg)
    .option("--json", "print the queue as proto JSON")
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const paused = await ctx.client(command).admin.pauseQueue(name, { signal: ctx.signal });
      ctx.stdout.write(
        flags.json
          ? jsonLine(queueToJson(paused))
          : `paused queue ${paused.name} (${paused.queued} queued, ${paused.running} running): no task of it starts until it is resumed\n`,
      );
    });

  queue
    .command("resume")
    .description("resume dispatch from a paused queue")
    .argument("<queue>", "the queue's name", queueArg)
    .option("--json", "print the queue as proto JSON")
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const resumed = await ctx.client(command).admin.resumeQueue(name, { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(queueToJson(resumed)) : `resumed queue ${resumed.name} (${resumed.queued} queued)\n`);
    });

  queue
    .command("purge")
    .alias("clear")
    .description("cancel every queued and scheduled task of a queue (running tasks go on)")
    .argument("<queue>", "the queue's name", queueArg)
    .option("-t, --type <type>", "only tasks of this type")
    .option("--created-before <time>", "only tasks created before this time: an ISO 8601 time or a duration ago, like 7d or 2h", timeArg)
    .option("-r, --reason <text>", 'recorded as each task\'s cancel reason (default: "purged")')
    .option("--json", "print the count as proto JSON")
    .action(async (name: string, flags: PurgeFlags, command: Command) => {
      const response = await ctx
        .client(command)
        .admin.purgeQueue(name, { type: flags.type, createdBefore: flags.createdBefore, reason: flags.reason }, { signal: ctx.signal });
      ctx.stdout.write(
        flags.json
          ? jsonLine(toJson(PurgeQueueResponseSchema, response, { alwaysEmitImplicit: true }))
          : `purged queue ${name}: cancelled ${plural(response.cancelled, "task")}\n`,
      );
    });

  queue
    .command("retry")
    .description("put the failed tasks of a queue back in it (same as `taskwire tasks retry --state failed --queue <queue>`)")
    .argument("<queue>", "the queue's name", queueArg)
    .option("--json", "print the count as proto JSON")
    .action(async (name: string, flags: { json?: boolean }, command: Command) => {
      const response = await ctx.client(command).admin.retryTasks({ selector: { states: ["FAILED"], queue: name } }, { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(toJson(RetryTasksResponseSchema, response, { alwaysEmitImplicit: true })) : retriedText(response));
    });
}
