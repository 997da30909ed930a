/**
 * Calling a task definition's hooks (`onSuccess`, `onFailure`, `onRetry`) once an attempt's
 * outcome is known, before it is reported. A hook's error never changes the outcome: the attempt
 * ran and ended as it did, and a bookkeeping hook that fails (an alert not sent, a metric not
 * written) must not turn a success into a retry, so the error is logged on the worker instead.
 *
 * Keep in line with the README's "Middleware and hooks" section.
 */
import type { TaskContext, TaskDefinition } from "../common/task-definition.js";
import type { Logger } from "../core/logger.js";
import type { AttemptOutcome } from "./task-runner.js";

/** How an attempt ended, with what the hooks receive. */
export interface SettledAttempt {
  outcome: AttemptOutcome;
  /** What the handler (or its middleware) returned, for `onSuccess`. */
  returned?: unknown;
  /** What it threw (or the output's encoding error), for `onFailure` and `onRetry`. */
  error?: unknown;
}

/** Whether the server will run another attempt after this failure. */
export function willRetry(outcome: AttemptOutcome, ctx: Pick<TaskContext, "attempt" | "maxAttempts">): boolean {
  return outcome.kind === "failure" && outcome.failure.retryable && ctx.attempt < ctx.maxAttempts;
}

/** Calls the hook of `definition` that `settled` asks for (none for a cancel); never rejects. */
export async function runTaskHooks(
  definition: TaskDefinition,
  settled: SettledAttempt,
  ctx: TaskContext,
  input: unknown,
  logger: Logger,
): Promise<void> {
  const hooks = definition.hooks;
  if (!hooks) return;
  const { outcome } = settled;
  let name: "onSuccess" | "onFailure" | "onRetry";
  let call: (() => void | Promise<void>) | undefined;
  if (outcome.kind === "output") {
    name = "onSuccess";
    call = hooks.onSuccess && (() => hooks.onSuccess?.(settled.returned as never, ctx, input as never));
  } else if (outcome.kind === "failure" && willRetry(outcome, ctx)) {
    name = "onRetry";
    call = hooks.onRetry && (() => hooks.onRetry?.(settled.error, ctx, input as never));
  } else if (outcome.kind === "failure") {
    name = "onFailure";
    call = hooks.onFailure && (() => hooks.onFailure?.(settled.error, ctx, input as never));
  } else {
    return;
  }
  if (!call) return;
  try {
    await call();
  } catch (error) {
    logger.error({ err: error, hook: name }, `the ${name} hook of ${definition.name} threw; the attempt's outcome stands`);
  }
}
