/**
 * `taskwire tasks list`: tasks, newest first, filtered by state, type, queue, labels and parent;
 * `taskwire tasks tree` (`tasks-tree.ts`).
 */
import type { Command } from "commander";
import type { TaskState } from "../../client/index.js";
import type { CliContext } from "../context.js";
import { toJson } from "@bufbuild/protobuf";
import { WaitReasonSchema } from "../../../gen/taskwire/v1/task_service_pb.js";
import { formatTaskTable, jsonLine, taskPageToJson, taskToJson } from "../format.js";
import { taskStateName } from "../../client/states.js";
import { collectLabel, collectStates, integerIn, queueArg } from "../options.js";
import { registerTasksTree } from "./tasks-tree.js";

interface ListFlags {
  state?: TaskState[];
  type?: string;
  queue?: string;
  limit: number;
  pageToken?: string;
  label?: Record<string, string>;
  parent?: string;
  json?: boolean;
}

/**
 * Adds `tasks list` to `program`.
 * @returns the `tasks` command, for the bulk commands (`tasks-bulk.ts`) to join.
 */
export function registerTasksCommands(program: Command, ctx: CliContext): Command {
  const tasks = program.command("tasks").description("inspect tasks, count them, and act on many at once");
  tasks
    .command("list")
    .description("list tasks, newest first")
    .option("-s, --state <states>", "only these states, comma-separated or repeated (queued,running,failed…)", collectStates)
    .option("-t, --type <type>", "only this task type")
    .option("-q, --queue <queue>", "only this queue", queueArg)
    .option("-l, --label <key=value>", "only tasks with this label (repeatable: all must match), like schedule=reports.nightly", collectLabel)
    .option("--parent <id>", "only the tasks that depend on this task (its children)")
    .option("-n, --limit <n>", "tasks per page, 1 to 1000", integerIn(1, 1000), 50)
    .option("--page-token <token>", "the page after the one that printed this token")
    .option("--json", "print the page as proto JSON")
    .action(async (flags: ListFlags, command: Command) => {
      const page = await ctx.client(command).listTasks(
        { states: flags.state, type: flags.type, queue: flags.queue, pageSize: flags.limit, pageToken: flags.pageToken, labels: flags.label, parentId: flags.parent },
        { signal: ctx.signal },
      );
      if (flags.json) {
        ctx.stdout.write(jsonLine(taskPageToJson(page, ctx.registry)));
        return;
      }
      ctx.stdout.write(formatTaskTable(page.tasks));
      const more = page.nextPageToken ? `; next page: --page-token ${page.nextPageToken}` : "";
      ctx.stdout.write(`${page.tasks.length} of ${page.totalCount} tasks${more}\n`);
    });
  registerTasksTree(tasks, ctx);
  tasks
    .command("explain")
    .description("why a task is not running: its run time, parents, a paused queue, a full limit, a rate, no worker, busy workers, the tasks ahead")
    .argument("<id>", "the task's id")
    .option("--json", "print the answer as proto JSON")
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      const { task, reasons } = await ctx.client(command).explainTask(id, { signal: ctx.signal });
      if (flags.json) {
        ctx.stdout.write(jsonLine({ task: taskToJson(task, ctx.registry), reasons: reasons.map((r) => toJson(WaitReasonSchema, r)) }));
        return;
      }
      const state = taskStateName(task.state);
      if (reasons.length === 0) {
        ctx.stdout.write(`task ${task.id} is ${state}: nothing holds it back\n`);
        return;
      }
      ctx.stdout.write(`task ${task.id} is ${state}:\n`);
      for (const r of reasons) ctx.stdout.write(`- ${r.message}${r.holders.length > 0 ? ` (held by ${r.holders.join(", ")})` : ""}\n`);
    });
  return tasks;
}
