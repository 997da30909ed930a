/**
 * `taskwire status|result|cancel <id>`: one task by its id.
 */
import type { Command } from "commander";
import { ResultTimeoutError, TaskState, taskStateName, type Task } from "../../client/index.js";
import type { CliContext } from "../context.js";
import { formatTaskDetails, jsonLine, taskToJson } from "../format.js";
import { durationArg } from "../options.js";
import { reportOutcome } from "../outcome.js";

/** Adds `status`, `result` and `cancel` to `program`. */
export function registerTaskCommands(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("show a task's state, progress, attempts and errors")
    .argument("<id>", "the task's id")
    .option("--json", "print the task as proto JSON")
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      const task = await ctx.client(command).getStatus(id, { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(taskToJson(task, ctx.registry)) : formatTaskDetails(task));
    });

  program
    .command("result")
    .description("print a task's output; exit status 3 when it failed, 4 when cancelled, 5 when not finished")
    .argument("<id>", "the task's id")
    .option("-w, --wait [duration]", "wait for the task to end, at most this long (like 30s); no value: as long as it takes", durationArg)
    .option("--json", "print the task as proto JSON")
    .action(async (id: string, flags: { wait?: number | true; json?: boolean }, command: Command) => {
      const client = ctx.client(command);
      let task: Task;
      if (flags.wait === undefined) {
        task = await client.getResult(id, undefined, { signal: ctx.signal });
      } else {
        try {
          task = await client.handle(id).wait({ timeout: flags.wait === true ? undefined : flags.wait, signal: ctx.signal });
        } catch (error) {
          if (!(error instanceof ResultTimeoutError)) throw error;
          task = error.task;
        }
      }
      reportOutcome(ctx, task, flags.json ?? false);
    });

  program
    .command("cancel")
    .description("cancel a queued, scheduled or running task")
    .argument("<id>", "the task's id")
    .option("-r, --reason <text>", "why, recorded with the cancel and passed to the worker")
    .option("--json", "print the task as proto JSON")
    .action(async (id: string, flags: { reason?: string; json?: boolean }, command: Command) => {
      const task = await ctx.client(command).cancel(id, flags.reason, { signal: ctx.signal });
      if (flags.json) {
        ctx.stdout.write(jsonLine(taskToJson(task, ctx.registry)));
      } else {
        const note = task.state === TaskState.CANCELLING ? " (its worker is stopping it)" : "";
        ctx.stdout.write(`${task.id}: ${taskStateName(task.state)}${note}\n`);
      }
    });
}
