/**
 * The flags that choose tasks for `tasks count|retry|cancel|delete`: states, type, queue,
 * labels and times, turned into the SDK's selector and checked against the states each action may take,
 * so a mistake is a usage error (exit status 2) before anything reaches the server.
 */
import type { Command } from "commander";
import { taskStateName, type TaskSelectorInput, type TaskState } from "../client/index.js";
import { ALL_STATES, TERMINAL_STATES, type TaskStateName } from "../core/task-states.js";
import { UsageError } from "./context.js";
import { collectLabel, collectStates, queueArg, timeArg } from "./options.js";

/** The selection flags as commander parses them. */
export interface SelectionFlags {
  state?: TaskState[];
  type?: string;
  queue?: string;
  finishedAfter?: Date;
  finishedBefore?: Date;
  createdBefore?: Date;
  label?: Record<string, string>;
}

/** What the time flags take, for their help. */
const TIME_HELP = "an ISO 8601 time or a duration ago, like 7d or 2h";

/**
 * Adds the selection flags to `command`; the finish times only when it may take finished tasks.
 * @param states the states the command may take, listed in the help of `--state`.
 */
export function addSelectionFlags(command: Command, states: readonly TaskStateName[] = ALL_STATES): Command {
  command
    .option("-s, --state <states>", `only these states, comma-separated or repeated (${states.map((s) => s.toLowerCase()).join(",")})`, collectStates)
    .option("-t, --type <type>", "only this task type")
    .option("-q, --queue <queue>", "only this queue", queueArg)
    .option("-l, --label <key=value>", "only tasks with this label (repeatable: all of them)", collectLabel);
  if (states.some((state) => TERMINAL_STATES.has(state))) {
    command
      .option("--finished-after <time>", `only tasks finished at or after this time: ${TIME_HELP}`, timeArg)
      .option("--finished-before <time>", `only tasks finished before this time: ${TIME_HELP}`, timeArg);
  }
  return command.option("--created-before <time>", `only tasks created before this time: ${TIME_HELP}`, timeArg);
}

/**
 * The selector the flags give, or undefined when no flag narrows the selection.
 * @param allowed the states the action may take; `--state` outside them is a usage error.
 * @param action the action's name for messages, e.g. "retry".
 * @throws UsageError when a state is not allowed, the finish times cannot match, or the range is empty.
 */
export function selectorOf(flags: SelectionFlags, allowed: readonly TaskStateName[], action: string): TaskSelectorInput | undefined {
  const states = (flags.state ?? []).map((state) => taskStateName(state) as TaskStateName);
  const refused = states.filter((state) => !allowed.includes(state));
  if (refused.length > 0) {
    throw new UsageError(`${action} takes only ${listOf(allowed)} tasks, not ${listOf(refused)}`);
  }
  const byFinish = flags.finishedAfter !== undefined || flags.finishedBefore !== undefined;
  if (byFinish && !allowed.some((state) => TERMINAL_STATES.has(state))) {
    throw new UsageError(`--finished-after and --finished-before take finished tasks; ${action} takes only ${listOf(allowed)} ones`);
  }
  if (byFinish && states.length > 0 && !states.some((state) => TERMINAL_STATES.has(state))) {
    throw new UsageError(`--finished-after and --finished-before take finished tasks, but --state names only ${listOf(states)}`);
  }
  if (flags.finishedAfter && flags.finishedBefore && flags.finishedAfter.getTime() >= flags.finishedBefore.getTime()) {
    throw new UsageError("--finished-after must be earlier than --finished-before");
  }
  const selector: TaskSelectorInput = {
    states: states.length > 0 ? states : undefined,
    type: flags.type,
    queue: flags.queue,
    finishedAfter: flags.finishedAfter,
    finishedBefore: flags.finishedBefore,
    createdBefore: flags.createdBefore,
    labels: flags.label,
  };
  return Object.values(selector).some((value) => value !== undefined) ? selector : undefined;
}

function listOf(states: readonly string[]): string {
  const names = states.map((state) => state.toLowerCase());
  return names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}
