/**
 * Reporting how a task ended, for `submit --wait/--follow` and `result`: the output on stdout,
 * failures on stderr, and an exit status that tells scripts what happened.
 */
import { ErrorKind, TaskState, type Task } from "../../gen/taskwire/v1/task_pb.js";
import { taskStateName } from "../client/index.js";
import { ExitCode, type CliContext } from "./context.js";
import { formatOutput, formatTaskErrors, jsonLine, taskToJson } from "./format.js";

/**
 * Prints the outcome of `task` and sets the exit status: 0 succeeded, 3 failed, 4 cancelled,
 * 5 not finished. With `json`, stdout gets the whole task as proto JSON instead of the output.
 */
export function reportOutcome(ctx: CliContext, task: Task, json: boolean): void {
  if (json) ctx.stdout.write(jsonLine(taskToJson(task, ctx.registry)));
  switch (task.state) {
    case TaskState.SUCCEEDED:
      if (!json) ctx.stdout.write(formatOutput(task, ctx.registry));
      return;
    case TaskState.FAILED: {
      const attempts = task.attempt === 1 ? "1 attempt" : `${task.attempt} attempts`;
      ctx.stderr.write(`task ${task.id} failed after ${attempts}:\n${formatTaskErrors(task)}`);
      ctx.exitCode = ExitCode.taskFailed;
      return;
    }
    case TaskState.CANCELLED: {
      const reason = task.errors.findLast((error) => error.kind === ErrorKind.CANCELLED)?.message;
      ctx.stderr.write(`task ${task.id} was cancelled${reason ? `: ${reason}` : ""}\n`);
      ctx.exitCode = ExitCode.taskCancelled;
      return;
    }
    default:
      ctx.stderr.write(`task ${task.id} is ${taskStateName(task.state)}; no result yet\n`);
      ctx.exitCode = ExitCode.notFinished;
  }
}
