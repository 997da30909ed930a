/**
 * `taskwire tasks count|retry|cancel|delete`: counts and bulk actions over tasks chosen by id
 * or by the selection flags (AdminService). Each action prints how many tasks it changed.
 */
import { toJson } from "@bufbuild/protobuf";
import { InvalidArgumentError, type Command } from "commander";
import {
  CancelTasksResponseSchema,
  DeleteTasksResponseSchema,
  RetryTasksResponseSchema,
  type CancelTasksResponse,
  type RetryTasksResponse,
} from "../../../gen/taskwire/v1/admin_service_pb.js";
import type { CountGroupName, TaskTargets } from "../../client/index.js";
import { ALL_STATES, TERMINAL_STATE_LIST, UNFINISHED_STATE_LIST, type TaskStateName } from "../../core/task-states.js";
import { UsageError, type CliContext } from "../context.js";
import { countsToJson, formatCountTable, plural } from "../fleet-format.js";
import { jsonLine } from "../format.js";
import { addSelectionFlags, selectorOf, type SelectionFlags } from "../task-selection.js";

/** The states a retry takes (the contract of `RetryTasks`). */
export const RETRYABLE_STATES: readonly TaskStateName[] = ["FAILED", "CANCELLED"];

interface CountFlags extends SelectionFlags {
  by?: CountGroupName[];
  json?: boolean;
}

interface ActionFlags extends SelectionFlags {
  all?: boolean;
  json?: boolean;
}

/**
 * Accumulates repeated `--by` flags, each `state`, `type` or `queue` or a comma-separated list
 * of them; `state` is always a group, so it adds nothing.
 */
export function collectGroups(text: string, previous: CountGroupName[] = []): CountGroupName[] {
  const groups = [...previous];
  for (const name of text.split(",").map((part) => part.trim().toLowerCase()).filter((part) => part !== "")) {
    if (name !== "state" && name !== "type" && name !== "queue") throw new InvalidArgumentError("expected state, type or queue");
    if (name !== "state" && !groups.includes(name)) groups.push(name);
  }
  return groups;
}

/** `retried 3 tasks`: what `tasks retry` and `queue retry` print. */
export function retriedText(response: RetryTasksResponse): string {
  return `retried ${plural(response.retried, "task")}\n`;
}

/** `cancelled 3 tasks; 2 running tasks are being stopped by their workers`: what `tasks cancel` prints. */
export function cancelledText(response: CancelTasksResponse): string {
  const { cancelled, cancelling } = response;
  const running =
    cancelling === 0n ? "" : `; ${plural(cancelling, "running task")} ${cancelling === 1n ? "is being stopped by its worker" : "are being stopped by their workers"}`;
  return `cancelled ${plural(cancelled, "task")}${running}\n`;
}

/** Adds `count`, `retry`, `cancel` and `delete` to the `tasks` command. */
export function registerTaskBulkCommands(tasks: Command, ctx: CliContext): void {
  addSelectionFlags(
    tasks
      .command("count")
      .description("count tasks by state, and by type or queue")
      .option("--by <groups>", "group by state (always), type and/or queue, comma-separated or repeated", collectGroups),
  )
    .option("--json", "print the counts as proto JSON")
    .action(async (flags: CountFlags, command: Command) => {
      const groups = { type: flags.by?.includes("type") ?? false, queue: flags.by?.includes("queue") ?? false };
      const response = await ctx
        .client(command)
        .admin.countTasks({ selector: selectorOf(flags, ALL_STATES, "count"), groupBy: flags.by }, { signal: ctx.signal });
      if (flags.json) {
        ctx.stdout.write(jsonLine(countsToJson(response)));
        return;
      }
      ctx.stdout.write(formatCountTable(response, groups));
      ctx.stdout.write(`${plural(response.total, "task")}\n`);
    });

  actionCommand(tasks, "retry", RETRYABLE_STATES)
    .description("put failed or cancelled tasks back in their queues with a fresh attempt budget")
    .action(async (ids: string[], flags: ActionFlags, command: Command) => {
      const response = await ctx.client(command).admin.retryTasks(targetsOf(ids, flags, RETRYABLE_STATES, "retry"), { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(toJson(RetryTasksResponseSchema, response, { alwaysEmitImplicit: true })) : retriedText(response));
    });

  actionCommand(tasks, "cancel", UNFINISHED_STATE_LIST)
    .description("cancel tasks: queued and scheduled ones at once, running ones through their workers")
    .option("-r, --reason <text>", "why, recorded with each cancel and passed to the workers")
    .action(async (ids: string[], flags: ActionFlags & { reason?: string }, command: Command) => {
      const targets = targetsOf(ids, flags, UNFINISHED_STATE_LIST, "cancel");
      const response = await ctx.client(command).admin.cancelTasks({ ...targets, reason: flags.reason }, { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(toJson(CancelTasksResponseSchema, response, { alwaysEmitImplicit: true })) : cancelledText(response));
    });

  actionCommand(tasks, "delete", TERMINAL_STATE_LIST)
    .description("delete finished tasks (their idempotency keys become free)")
    .action(async (ids: string[], flags: ActionFlags, command: Command) => {
      const response = await ctx.client(command).admin.deleteTasks(targetsOf(ids, flags, TERMINAL_STATE_LIST, "delete"), { signal: ctx.signal });
      ctx.stdout.write(
        flags.json ? jsonLine(toJson(DeleteTasksResponseSchema, response, { alwaysEmitImplicit: true })) : `deleted ${plural(response.deleted, "task")}\n`,
      );
    });
}

/** A bulk action's command: ids, the selection flags, `--all` and `--json`. */
function actionCommand(tasks: Command, name: string, states: readonly TaskStateName[]): Command {
  const command = tasks.command(name).argument("[ids...]", "the tasks' ids (at most 10,000); or choose tasks with the flags");
  const every = states.map((state) => state.toLowerCase()).join(", ");
  return addSelectionFlags(command, states)
    .option("--all", `with no ids and no other flag: every task ${name} may take (${every})`)
    .option("--json", "print what changed as proto JSON");
}

/**
 * The ids or the selector of a bulk action.
 * @throws UsageError when ids and selection flags are mixed, or nothing narrows the selection without `--all`.
 */
export function targetsOf(ids: readonly string[], flags: ActionFlags, allowed: readonly TaskStateName[], action: string): TaskTargets {
  const selector = selectorOf(flags, allowed, action);
  if (ids.length > 0) {
    if (selector || flags.all) throw new UsageError(`${action}: give task ids or selection flags (or --all), not both`);
    return { ids };
  }
  if (selector) return { selector };
  // Every state the action may take, named: an explicit selector, never an empty one.
  if (flags.all) return { selector: { states: [...allowed] } };
  throw new UsageError(
    `${action}: give task ids, or choose tasks with --state, --type, --queue, --finished-after, --finished-before or --created-before, or --all for every task ${action} may take`,
  );
}
