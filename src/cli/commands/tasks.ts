/**
 * `taskwire tasks list`: tasks, newest first, filtered by state, type, queue, labels and parent;
 * `taskwire tasks tree` (`tasks-tree.ts`).
 */
import type { Command } from "commander";
import type { TaskState } from "../../client/index.js";
import type { CliContext } from "../context.js";
import { formatTaskTable, jsonLine, taskPageToJson } from "../format.js";
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
  return tasks;
}
