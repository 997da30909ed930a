/**
 * Worker middleware: functions registered with `worker.use()` that run around every attempt's
 * handler, in registration order (the first registered is the outermost), the way Koa's and
 * connect-es' interceptors nest. A middleware sets something up, calls `next()` (which runs the
 * next middleware, and at the end the handler), and restores or records after it: time an
 * attempt, open a span, put a tenant into an `AsyncLocalStorage`, translate errors.
 *
 * `next()` resolves with what the handler returned and rejects with what it threw; a middleware
 * may change either (return another output, throw another error), and what the outermost one
 * returns or throws is the attempt's outcome. A middleware that never calls `next()` skips the
 * handler. With a process pool (`processes`), middleware runs in the worker's own process around
 * the pooled run; the handler alone runs in the pool (README "Worker pool").
 *
 * Keep in line with the README's "Middleware and hooks" section.
 */
import type { TaskContext, TaskDefinition } from "../common/task-definition.js";

/** The attempt a middleware wraps. */
export interface MiddlewareTask {
  /** The task type's name, e.g. `reports.generate`. */
  readonly name: string;
  /** The definition being run (its spec, handler and hooks). */
  readonly definition: TaskDefinition;
  /** The decoded input, as the handler receives it. */
  readonly input: unknown;
}

/**
 * Runs around an attempt's handler. Call `next()` exactly once to go on; its promise settles as
 * the rest of the chain (and the handler) did.
 * @example
 * worker.use(async (task, ctx, next) => {
 *   const started = performance.now();
 *   try {
 *     return await next();
 *   } finally {
 *     ctx.log.info(`${task.name} took ${Math.round(performance.now() - started)} ms`);
 *   }
 * });
 */
export type WorkerMiddleware = (task: MiddlewareTask, ctx: TaskContext, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * Runs `handler` inside `middleware` (first outermost). A middleware that calls `next()` a second
 * time gets a rejection, not a second run of the handler.
 */
export function runWithMiddleware(
  middleware: readonly WorkerMiddleware[],
  task: MiddlewareTask,
  ctx: TaskContext,
  handler: () => Promise<unknown>,
): Promise<unknown> {
  const dispatch = (index: number): Promise<unknown> => {
    const current = middleware[index];
    if (!current) return handler();
    let called = false;
    return current(task, ctx, () => {
      if (called) return Promise.reject(new Error(`middleware #${index + 1} called next() twice`));
      called = true;
      return dispatch(index + 1);
    });
  };
  return dispatch(0);
}
